// msp_pool_unit: VW lanes that reduce a window's activations channel by channel, for max
// pooling (docs/numerics.md 7.4: padded taps never win) and global average pooling (7.5: the
// int32 sum over H x W, requantized later by the output stage). One word of VW activations per
// step, in the window former's order; `first` starts a new window.
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
    output reg  [32*VW-1:0]  acc           // lane l at [32*l +: 32]: int32 sum, or the max (sign-extended)
);
    genvar l;
    generate
        for (l = 0; l < VW; l = l + 1) begin : lane
            wire signed [31:0] v = in_signed ? {{24{x[8*l + 7]}}, x[8*l +: 8]} : {24'd0, x[8*l +: 8]};
            wire signed [31:0] a = acc[32*l +: 32];
            wire signed [31:0] lowest = in_signed ? -32'sd128 : 32'sd0;
            always @(posedge clk)
                if (valid) begin
                    if (is_max) acc[32*l +: 32] <= first ? (pad ? lowest : v) : ((!pad && v > a) ? v : a);
                    else        acc[32*l +: 32] <= (first ? 32'sd0 : a) + (pad ? 32'sd0 : v);
                end
        end
    endgenerate
endmodule
`default_nettype wire
