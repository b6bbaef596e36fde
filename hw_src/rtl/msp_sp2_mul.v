// msp_sp2_mul: one SP2-4 weight times one activation as two shifted terms, no multiplier
// (docs/numerics.md, section 3). Code: bit 3 sign, bits 2..1 i1, bit 0 i2;
//   term1 = i1 ? a << (3 - i1) : 0,  term2 = i2 ? a << 2 : 0,  p = sign ? -(term1 + term2) : +(...)
// The terms come out one's-complemented when the sign is set: p = t1 + t2 + 2 * neg. A row adds
// the terms in its adder tree and the 2 * neg corrections once, at the root, so no lane needs
// its own negation (an adder) and each term is one LUT level (shift select and XOR).
`default_nettype none
module msp_sp2_mul (
    input  wire signed [8:0]  a,     // activation: u8 zero-extended, or s8 sign-extended
    input  wire        [3:0]  code,
    output wire signed [11:0] t1,    // |term| <= 255 * 4
    output wire signed [11:0] t2,
    output wire               neg    // p = t1 + t2 + 2 * neg
);
    wire [1:0] i1 = code[2:1];
    wire signed [11:0] ax    = {{3{a[8]}}, a};
    wire signed [11:0] term1 = (i1 == 2'd0) ? 12'sd0 : (ax <<< (2'd3 - i1));
    wire signed [11:0] term2 = code[0] ? (ax <<< 2) : 12'sd0;
    assign neg = code[3];
    assign t1 = term1 ^ {12{neg}};
    assign t2 = term2 ^ {12{neg}};
endmodule
`default_nettype wire
