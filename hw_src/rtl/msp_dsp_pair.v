// msp_dsp_pair: two fixed-4 weight rows times the same VW activations on VW multipliers (one
// DSP slice each), not 2*VW. Each multiplier computes x * (w_b * 2^18 + w_a) = x*w_a + (x*w_b) * 2^18,
// and the VW products are summed packed (lane pairs first, then two trees: the
// low 18 bits and the high field). The low 18 bits of the sum, read as signed, are sum(x*w_a):
// |sum| <= VW * 255 * 7 < 2^17 for VW <= 64. The rest, shifted down, is sum(x*w_b).
// This is how the DSP core gets two fixed-4 MACs per DSP48 per cycle.
// With `fixed8`, the pair runs one fixed-8 row w = 16 * hi + lo instead: codes_a carries the low
// nibbles as unsigned 0..15 (|sum| <= VW * 255 * 15 < 2^17 for VW <= 32), codes_b the high
// nibbles as signed -8..7, and sum_a returns sum(x*lo) + 16 * sum(x*hi) = sum(x*w); sum_b is 0.
// So an 8-bit row costs the DSP core two 4-bit row slots.
// PIPE = 0: combinational. PIPE = 1: pipelined, one new input per cycle, sums LATENCY cycles
// later: each lane's DSP gets its A/B input registers (the packed weight and the fixed8 mux come
// before them), M registers, and one register per lane pair holding the pair's sum (3 cycles);
// the packed trees have a register every two levels (ceil(clog2(VW) / 2) cycles in all); the
// split is two stages (hi from the two trees; then whole = lo + 16 hi).
`default_nettype none
module msp_dsp_pair #(
    parameter integer VW    = 16,
    parameter integer OUT_W = 17 + $clog2(VW),
    parameter integer PIPE  = 0
) (
    input  wire                    clk,      // used when PIPE = 1
    input  wire [9*VW-1:0]         a,        // VW activations, 9-bit signed each
    input  wire [4*VW-1:0]         codes_a,  // row a: VW fixed-4 codes (two's complement)
    input  wire [4*VW-1:0]         codes_b,  // row b
    input  wire                    fixed8,   // 1: one fixed-8 row (codes_a low, codes_b high nibbles)
    output wire signed [OUT_W-1:0] sum_a,
    output wire signed [OUT_W-1:0] sum_b
);
    localparam integer PW = 34 + $clog2(VW);          // packed product sum width
    localparam integer NT = (VW + 1) / 2;             // lane pairs: the trees' terms
    localparam integer TREE_LAT = PIPE != 0 ? ($clog2(VW) + 1) / 2 : 0;    // the pipeline's tree stages
    localparam integer PAIR_LAT = PIPE != 0 ? ($clog2(NT) + 1) / 2 : 0;    // msp_adder_tree's over NT
    localparam integer LATENCY = PIPE != 0 ? 3 + TREE_LAT + 2 : 0;
    // terms: each lane pair's packed products summed (35 bits) and registered: the trees then take
    // half the terms. (The DSP48's ALU could take this add, P = M + PCIN, not checked with Vivado; Yosys
    // 0.23 leaves it and its register in the fabric, and the figures in docs/ count it there.)
    wire [35*NT-1:0] terms;
    genvar i;
    generate
        for (i = 0; i < VW; i = i + 1) begin : mul
            wire signed [4:0]  wa = fixed8 ? {1'b0, codes_a[4*i +: 4]} : {codes_a[4*i + 3], codes_a[4*i +: 4]};
            wire signed [3:0]  wb = codes_b[4*i +: 4];
            wire signed [24:0] packed_w = ($signed({wb, 18'd0}) + wa);   // fits the 25-bit A port
            wire signed [8:0]  x = a[9*i +: 9];
            wire signed [33:0] m;
            if (PIPE != 0) begin : pipe
                reg signed [24:0] ar;                 // AREG
                reg signed [8:0]  br;                 // BREG
                reg signed [33:0] mr;                 // MREG
                always @(posedge clk) begin ar <= packed_w; br <= x; mr <= br * ar; end
                assign m = mr;
            end else begin : comb
                assign m = x * packed_w;
            end
        end
        for (i = 0; i < NT; i = i + 1) begin : pair
            wire signed [34:0] s;
            if (2 * i + 1 < VW) begin : two
                assign s = mul[2*i].m + mul[2*i+1].m;
            end else begin : one
                assign s = mul[2*i].m;
            end
            if (PIPE != 0) begin : pipe
                reg signed [34:0] pr;                 // the pair's sum
                always @(posedge clk) pr <= s;
                assign terms[35*i +: 35] = pr;
            end else begin : comb
                assign terms[35*i +: 35] = s;
            end
        end
    endgenerate
    // The packed sum is kept as two narrow trees, the low 18 bits (unsigned, with their carries)
    // and the high field, so no adder is PW bits wide: total = hi_sum * 2^18 + lo_sum.
    localparam integer LW = 19 + $clog2(VW), HW = PW - 18;
    wire [19*NT-1:0] lows;
    wire [17*NT-1:0] highs;
    generate
        for (i = 0; i < NT; i = i + 1) begin : field
            assign lows[19*i +: 19]  = {1'b0, terms[35*i +: 18]};
            assign highs[17*i +: 17] = terms[35*i + 18 +: 17];
        end
    endgenerate
    wire signed [LW-1:0] lo_t, lo_sum;
    wire signed [HW-1:0] hi_t, hi_sum;
    msp_adder_tree #(.N(NT), .IN_W(19), .OUT_W(LW), .REG_EVERY(PIPE != 0 ? 2 : 0)) lo_tree (.clk(clk), .x(lows), .sum(lo_t));
    msp_adder_tree #(.N(NT), .IN_W(17), .OUT_W(HW), .REG_EVERY(PIPE != 0 ? 2 : 0)) hi_tree (.clk(clk), .x(highs), .sum(hi_t));
    // where the pairs left the trees a stage short (VW = 32, 64), a register keeps LATENCY
    generate
        if (TREE_LAT > PAIR_LAT) begin : pad
            reg [LW+HW-1:0] dl [0:TREE_LAT-PAIR_LAT-1];
            integer k;
            always @(posedge clk) begin
                dl[0] <= {lo_t, hi_t};
                for (k = 1; k < TREE_LAT - PAIR_LAT; k = k + 1) dl[k] <= dl[k-1];
            end
            assign {lo_sum, hi_sum} = dl[TREE_LAT-PAIR_LAT-1];
        end else begin : same
            assign lo_sum = lo_t; assign hi_sum = hi_t;
        end
    endgenerate
    // lo = the low 18 bits read as signed; hi = (total - lo) >>> 18 = hi_sum + the low sum's
    // carries + its sign bit (a negative lo borrowed 2^18 from the high field)
    wire signed [17:0]   lo = lo_sum[17:0];
    wire [PW-1:0] hi_x   = {{(PW - HW){hi_sum[HW-1]}}, hi_sum};
    wire [PW-1:0] carry_x = {{(PW - LW + 18){1'b0}}, lo_sum[LW-1:18]};
    wire signed [PW-1:0] hi = hi_x + carry_x + {{(PW - 1){1'b0}}, lo_sum[17]};
    generate
        if (PIPE != 0) begin : split
            // fixed8 travels with the data: 3 (DSP) + tree + 1 (hi stage) cycles to the last stage
            reg [3 + TREE_LAT:0] f8d;
            always @(posedge clk) f8d <= {f8d[2 + TREE_LAT:0], fixed8};
            reg signed [17:0]   lo1;
            reg signed [PW-1:0] hi1;
            reg signed [OUT_W-1:0] ra, rb;
            wire signed [PW-1:0] whole = lo1 + (hi1 <<< 4);
            always @(posedge clk) begin
                lo1 <= lo;
                hi1 <= hi;
                ra <= f8d[3 + TREE_LAT] ? $signed(whole[OUT_W-1:0]) : lo1;
                rb <= f8d[3 + TREE_LAT] ? $signed({OUT_W{1'b0}}) : $signed(hi1[OUT_W-1:0]);
            end
            assign sum_a = ra;
            assign sum_b = rb;
        end else begin : split
            wire signed [PW-1:0] whole = lo + (hi <<< 4);
            assign sum_a = fixed8 ? $signed(whole[OUT_W-1:0]) : lo;     // $signed: keep lo sign-extended
            assign sum_b = fixed8 ? $signed({OUT_W{1'b0}}) : $signed(hi[OUT_W-1:0]);
        end
    endgenerate
endmodule
`default_nettype wire
