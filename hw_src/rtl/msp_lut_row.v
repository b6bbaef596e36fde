// msp_lut_row: one SP2-4 weight row times VW activations, summed: the LUT core's vector unit.
// VW shift-select units (msp_sp2_mul, no DSP) give two terms each; one balanced adder tree sums
// the 2 * VW terms, and the negative weights' two's-complement corrections (2 per negative code)
// are added once at the root. Combinational; the engine registers around it.
// |sum| <= VW * 8 * 256, so OUT_W = 13 + clog2(VW) bits suffice.
`default_nettype none
module msp_lut_row #(
    parameter integer VW    = 16,
    parameter integer OUT_W = 13 + $clog2(VW)
) (
    input  wire [9*VW-1:0]         a,      // VW activations, 9-bit signed each (u8 or s8 extended)
    input  wire [4*VW-1:0]         codes,  // VW SP2-4 codes
    output wire signed [OUT_W-1:0] sum
);
    wire [24*VW-1:0] terms;
    wire [VW-1:0]    neg;
    genvar i;
    generate
        for (i = 0; i < VW; i = i + 1) begin : mul
            msp_sp2_mul u (.a(a[9*i +: 9]), .code(codes[4*i +: 4]), .t1(terms[24*i +: 12]),
                           .t2(terms[24*i + 12 +: 12]), .neg(neg[i]));
        end
    endgenerate
    wire signed [OUT_W-1:0] tree;
    msp_adder_tree #(.N(2 * VW), .IN_W(12), .OUT_W(OUT_W)) adders (.x(terms), .sum(tree));
    integer k;
    reg [$clog2(VW + 1):0] negs;
    always @* begin
        negs = 0;
        for (k = 0; k < VW; k = k + 1) negs = negs + neg[k];
    end
    assign sum = tree + $signed({1'b0, negs, 1'b0});
endmodule
`default_nettype wire
