// msp_requant: the contract's requantization (docs/numerics.md, section 6).
//   y = clamp((acc * mult + R) >>> shift, lo, hi),  R = 2^(shift-1) for shift >= 1, else 0
// Round half up (arithmetic shift = floor), then saturate to u4/u5/u8 (ReLU fused) or s8.
// Combinational: the contract's formula as written (the reference unit). |acc * mult| < 2^47 and
// R <= 2^46, so the sum fits 49 signed bits. The engine uses msp_requant_pipe below (the same
// result, pipelined; the output stage's two lanes).
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

// msp_requant_pipe: the same requantization, pipelined for the output stage (LATENCY = 7 cycles
// from acc/mult/shift to y; one input per cycle; no stalls, no enables). The steps, each checked
// bit for bit against the contract (tests/hdl/tb_units.py, tests/hdl/tb_output_stage.py):
//   1. inputs registered; acc = a_hi * 2^17 + a_lo with a_lo = acc[16:0] (unsigned), a_hi = acc[31:17]
//   2. two DSP products, M registers: a_lo * m (18 x 17 signed, < 2^33), a_hi * m (15 x 17, |.| < 2^30)
//   3. P registers
//   4. prod = (a_hi * m + (a_lo * m >> 17)) * 2^17 + (a_lo * m mod 2^17)   (a 32-bit add) = acc * m
//   5. t = 2 * prod >>> 8 * shift[5:3]                                     (a 6-way byte shift)
//   6. x = t >>> shift[2:0] = floor(2 * acc * m / 2^shift), its low 10 bits, and whether
//      x fits 10 signed bits (t[49:9 + shift[2:0]] all equal)
//   7. y = floor((x + 1) / 2) = floor((acc * m + R) / 2^shift) (the contract's round half up, for
//      shift = 0 too), saturated: x < 2 lo - 1 gives lo, x > 2 hi gives hi; no 49-bit rounding add.
// out_signed/out_bits are sampled at step 6 (the engine holds them for the whole layer).
module msp_requant_pipe (
    input  wire               clk,
    input  wire signed [31:0] acc,
    input  wire        [15:0] mult,       // 0..65535
    input  wire        [5:0]  shift,      // 0..47
    input  wire               out_signed,
    input  wire        [3:0]  out_bits,
    output reg         [7:0]  y
);
    localparam integer LATENCY = 7;
    // 1
    reg        [16:0] a_lo1;
    reg signed [14:0] a_hi1;
    (* keep *) reg [15:0] m1_lo, m1_hi;         // one copy per DSP: each can be its B register
    reg        [5:0]  s1, s2, s3, s4;
    always @(posedge clk) begin
        a_lo1 <= acc[16:0]; a_hi1 <= acc[31:17]; m1_lo <= mult; m1_hi <= mult; s1 <= shift;
    end
    // 2, 3: one DSP each (A/B from step 1's registers, M and P registers)
    reg signed [34:0] mlo2, plo3;
    reg signed [31:0] mhi2, phi3;
    always @(posedge clk) begin
        mlo2 <= $signed({1'b0, a_lo1}) * $signed({1'b0, m1_lo});
        mhi2 <= a_hi1 * $signed({1'b0, m1_hi});
        plo3 <= mlo2; phi3 <= mhi2;
        s2 <= s1; s3 <= s2;
    end
    // 4
    reg signed [48:0] prod4;
    always @(posedge clk) begin
        prod4 <= {phi3 + $signed({16'd0, plo3[32:17]}), plo3[16:0]};
        s4 <= s3;
    end
    // 5
    wire signed [49:0] p2 = {prod4, 1'b0};
    reg  signed [49:0] t5;
    reg         [2:0]  slo5;
    always @(posedge clk) begin
        case (s4[5:3])
            3'd0: t5 <= p2;
            3'd1: t5 <= p2 >>> 8;
            3'd2: t5 <= p2 >>> 16;
            3'd3: t5 <= p2 >>> 24;
            3'd4: t5 <= p2 >>> 32;
            default: t5 <= p2 >>> 40;              // shift <= 47
        endcase
        slo5 <= s4[2:0];
    end
    // 6
    wire        neg5 = t5[49];
    wire        hi_eq = (t5[49:16] == {34{neg5}});
    wire [6:0]  diff = (t5[15:9] ^ {7{neg5}}) & (7'h7F << slo5);   // bits 9 + slo5 .. 15 that differ
    wire signed [16:0] t17 = t5[16:0];
    reg  signed [9:0]  x6;
    reg                inr6, neg6;
    reg  signed [9:0]  lo2m1, hi2;                 // 2 lo - 1, 2 hi
    reg         [7:0]  lo8, hi8;
    always @(posedge clk) begin
        x6 <= t17 >>> slo5;
        inr6 <= hi_eq && diff == 7'd0;
        neg6 <= neg5;
        lo2m1 <= out_signed ? -10'sd257 : -10'sd1;
        hi2 <= out_signed ? 10'sd254 : $signed({(9'd1 << out_bits) - 9'd1, 1'b0});
        lo8 <= out_signed ? 8'h80 : 8'h00;
        hi8 <= out_signed ? 8'h7F : ((9'd1 << out_bits) - 9'd1);
    end
    // 7
    wire signed [9:0] x_up = x6 + 10'sd1;
    always @(posedge clk) begin
        if (!inr6)            y <= neg6 ? lo8 : hi8;
        else if (x6 < lo2m1)  y <= lo8;
        else if (x6 > hi2)    y <= hi8;
        else                  y <= x_up[8:1];
    end
endmodule
`default_nettype wire
