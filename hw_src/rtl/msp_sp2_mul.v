// msp_sp2_mul: one SP2-4 weight times one activation with two shifts and an add, no multiplier
// (docs/numerics.md, section 3). Code: bit 3 sign, bits 2..1 i1, bit 0 i2;
//   term1 = i1 ? a << (3 - i1) : 0,  term2 = i2 ? a << 2 : 0,  p = sign ? -(term1 + term2) : +(...)
`default_nettype none
module msp_sp2_mul (
    input  wire signed [8:0]  a,     // activation: u8 zero-extended, or s8 sign-extended
    input  wire        [3:0]  code,
    output wire signed [12:0] p      // |p| <= 8 * 256 = 2048
);
    wire [1:0] i1 = code[2:1];
    wire signed [12:0] ax    = {{4{a[8]}}, a};
    wire signed [12:0] term1 = (i1 == 2'd0) ? 13'sd0 : (ax <<< (2'd3 - i1));
    wire signed [12:0] term2 = code[0] ? (ax <<< 2) : 13'sd0;
    wire signed [12:0] sum   = term1 + term2;
    assign p = code[3] ? -sum : sum;
endmodule
`default_nettype wire
