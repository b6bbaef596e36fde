// msp_lut_row: one SP2-4 weight row times VW activations, summed: the LUT core's vector unit.
// VW shift-select units (msp_sp2_mul, no DSP) give two terms each; the negative weights'
// two's-complement corrections (2 per negative code) make NC more terms (NC = max(2, VW / 8)
// groups of the codes: short counts, at most 8 codes each, instead of one long one), and one
// balanced adder tree sums the 2 * VW + NC terms. |sum| <= VW * 8 * 256, so OUT_W = 13 + clog2(VW) bits suffice
// (partial sums may wrap: the tree adds modulo 2^OUT_W and the total fits).
// PIPE = 0: combinational (the arithmetic, checked exhaustively on its own). PIPE = 1: the terms
// are registered, the tree has a register every two levels and at its root, so `sum` is a
// register output LATENCY = 1 + ceil(clog2(2 VW + NC) / 2) cycles after its inputs; one new input
// per cycle.
`default_nettype none
module msp_lut_row #(
    parameter integer VW    = 16,
    parameter integer OUT_W = 13 + $clog2(VW),
    parameter integer PIPE  = 0
) (
    input  wire                    clk,    // used when PIPE = 1
    input  wire [9*VW-1:0]         a,      // VW activations, 9-bit signed each (u8 or s8 extended)
    input  wire [4*VW-1:0]         codes,  // VW SP2-4 codes
    output wire signed [OUT_W-1:0] sum
);
    localparam integer NC = VW > 16 ? (VW + 7) / 8 : 2;       // correction terms
    localparam integer N = 2 * VW + NC;
    localparam integer LATENCY = PIPE != 0 ? 1 + ($clog2(N) + 1) / 2 : 0;
    wire [12*N-1:0] terms;
    wire [VW-1:0]   neg;
    genvar i;
    generate
        for (i = 0; i < VW; i = i + 1) begin : mul
            msp_sp2_mul u (.a(a[9*i +: 9]), .code(codes[4*i +: 4]), .t1(terms[24*i +: 12]),
                           .t2(terms[24*i + 12 +: 12]), .neg(neg[i]));
        end
    endgenerate
    // correction term c counts codes [c * VW / NC, (c + 1) * VW / NC): 2 * count <= 2 * VW fits 12 bits
    integer k;
    reg [11:0] corr [0:NC-1];
    always @* begin
        for (k = 0; k < NC; k = k + 1) corr[k] = 0;
        for (k = 0; k < VW; k = k + 1) corr[k * NC / VW] = corr[k * NC / VW] + {10'd0, neg[k], 1'b0};
    end
    generate
        for (i = 0; i < NC; i = i + 1) begin : c
            assign terms[12 * (2 * VW + i) +: 12] = corr[i];
        end
    endgenerate
    wire [12*N-1:0] tree_in;
    generate
        if (PIPE != 0) begin : pipe
            reg [12*N-1:0] terms_r;
            always @(posedge clk) terms_r <= terms;
            assign tree_in = terms_r;
        end else begin : comb
            assign tree_in = terms;
        end
    endgenerate
    msp_adder_tree #(.N(N), .IN_W(12), .OUT_W(OUT_W), .REG_EVERY(PIPE != 0 ? 2 : 0)) adders (
        .clk(clk), .x(tree_in), .sum(sum));
endmodule
`default_nettype wire
