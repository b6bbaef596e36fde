// msp_requant: the contract's requantization (docs/numerics.md, section 6).
//   y = clamp((acc * mult + R) >>> shift, lo, hi),  R = 2^(shift-1) for shift >= 1, else 0
// Round half up (arithmetic shift = floor), then saturate to u4/u5/u8 (ReLU fused) or s8.
// Combinational; the engine registers around it. |acc * mult| < 2^47 and R <= 2^46, so the
// sum fits 49 signed bits.
`default_nettype none
module msp_requant (
    input  wire signed [31:0] acc,
    input  wire        [15:0] mult,       // 0..65535
    input  wire        [5:0]  shift,      // 0..47
    input  wire               out_signed, // 1: s8 output, 0: unsigned out_bits
    input  wire        [3:0]  out_bits,   // 4, 5 or 8 (unsigned outputs)
    output reg         [7:0]  y           // uint8, or int8 two's complement
);
    wire signed [48:0] prod = acc * $signed({1'b0, mult});
    wire signed [48:0] half = (shift == 6'd0) ? 49'sd0 : (49'sd1 <<< (shift - 6'd1));
    wire signed [48:0] q    = (prod + half) >>> shift;
    wire signed [48:0] lo   = out_signed ? -49'sd128 : 49'sd0;
    wire signed [48:0] hi   = out_signed ? 49'sd127 : ((49'sd1 <<< out_bits) - 49'sd1);

    always @* begin
        if (q < lo)      y = lo[7:0];
        else if (q > hi) y = hi[7:0];
        else             y = q[7:0];
    end
endmodule
`default_nettype wire
