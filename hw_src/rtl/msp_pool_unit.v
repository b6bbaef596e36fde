// msp_pool_unit: VW lanes that reduce a window's activations channel by channel, for max
// pooling (docs/numerics.md 7.4: padded taps never win) and global average pooling (7.5: the
// int32 sum over H x W, requantized later by the output stage). One word of VW activations per
// step, in the window former's order; `first` starts a new window. The step is registered first
// (x comes straight from the activation RAM): `acc` shows a step two edges after it is presented.
`default_nettype none
module msp_pool_unit #(
    parameter integer VW = 16
) (
    input  wire              clk,
    input  wire              valid,
    input  wire              first,
    input  wire              pad,          // the tap lies in the padding
    input  wire              is_max,       // 1: max, 0: sum
    input  wire              in_signed,    // s8 activations
    input  wire [8*VW-1:0]   x,
    output wire [32*VW-1:0]  acc           // lane l at [32*l +: 32]: int32 sum, or the max (sign-extended)
);
    reg              v_r, first_r, pad_r;
    reg [8*VW-1:0]   x_r;
    always @(posedge clk) begin v_r <= valid; first_r <= first; pad_r <= pad; x_r <= x; end
    genvar l;
    generate
        for (l = 0; l < VW; l = l + 1) begin : lane
            // 24 bits: an image has at most 2^15 pixels (the activation buffer), 2^15 * 255 < 2^23
            wire signed [23:0] v = in_signed ? {{16{x_r[8*l + 7]}}, x_r[8*l +: 8]} : {16'd0, x_r[8*l +: 8]};
            reg  signed [23:0] a;
            wire signed [23:0] lowest = in_signed ? -24'sd128 : 24'sd0;
            always @(posedge clk)
                if (v_r) begin
                    if (is_max) a <= first_r ? (pad_r ? lowest : v) : ((!pad_r && v > a) ? v : a);
                    else        a <= (first_r ? 24'sd0 : a) + (pad_r ? 24'sd0 : v);
                end
            assign acc[32*l +: 32] = {{8{a[23]}}, a};
        end
    endgenerate
endmodule
`default_nettype wire
