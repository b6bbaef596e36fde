// msp_dsp_row: one fixed-point weight row (fixed-4 or fixed-8 codes) times VW activations,
// summed: the DSP core's vector unit. Each 9x8 signed product is a `*`, which synthesis maps to a
// DSP slice (DSP48E1 on xc7, DSP48E2 on UltraScale+); the sums use an adder tree.
// |sum| <= VW * 127 * 256, so OUT_W = 17 + clog2(VW) bits suffice.
`default_nettype none
module msp_dsp_row #(
    parameter integer VW    = 16,
    parameter integer OUT_W = 17 + $clog2(VW)
) (
    input  wire [9*VW-1:0]         a,       // VW activations, 9-bit signed each
    input  wire [8*VW-1:0]         codes,   // fixed-8 codes, or fixed-4 codes in bits [3:0]
    input  wire                    fixed4,  // 1: the row is fixed-4 (sign-extend bits [3:0])
    output wire signed [OUT_W-1:0] sum
);
    wire [17*VW-1:0] products;
    genvar i;
    generate
        for (i = 0; i < VW; i = i + 1) begin : mul
            wire [7:0] c = codes[8*i +: 8];
            wire signed [7:0] w = fixed4 ? {{4{c[3]}}, c[3:0]} : c;   // contract codes: two's complement
            wire signed [8:0] x = a[9*i +: 9];
            wire signed [16:0] p = x * w;
            assign products[17*i +: 17] = p;
        end
    endgenerate
    msp_adder_tree #(.N(VW), .IN_W(17), .OUT_W(OUT_W)) tree (.x(products), .sum(sum));
endmodule
`default_nettype wire
