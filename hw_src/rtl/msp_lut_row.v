// msp_lut_row: one SP2-4 weight row times VW activations, summed: the LUT core's vector unit.
// VW shift-add multipliers (msp_sp2_mul, no DSP) and a balanced adder tree, combinational;
// the engine registers around it. |sum| <= VW * 8 * 256, so OUT_W = 13 + clog2(VW) bits suffice.
`default_nettype none
module msp_lut_row #(
    parameter integer VW    = 16,
    parameter integer OUT_W = 13 + $clog2(VW)
) (
    input  wire [9*VW-1:0]         a,      // VW activations, 9-bit signed each (u8 or s8 extended)
    input  wire [4*VW-1:0]         codes,  // VW SP2-4 codes
    output wire signed [OUT_W-1:0] sum
);
    wire [13*VW-1:0] products;
    genvar i;
    generate
        for (i = 0; i < VW; i = i + 1) begin : mul
            msp_sp2_mul u (.a(a[9*i +: 9]), .code(codes[4*i +: 4]), .p(products[13*i +: 13]));
        end
    endgenerate
    msp_adder_tree #(.N(VW), .IN_W(13), .OUT_W(OUT_W)) tree (.x(products), .sum(sum));
endmodule
`default_nettype wire
