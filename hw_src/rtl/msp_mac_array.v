// msp_mac_array: the engine's compute array, pipelined. LUT_ROWS SP2-4 rows (LUT core) and
// DSP_ROWS fixed-4 row slots (DSP core: DSP_ROWS / 2 msp_dsp_pair units, one DSP per two
// products) take the same VW activations each cycle (one broadcast stream), multiply them by their
// own VW weight codes and add the row sums into int32 accumulators: per row, acc = sum over the
// K/VW steps of dot(a_step, w_step) (docs/numerics.md 5). A pair in fixed-8 mode runs one fixed-8
// row in its two slots (result in the first slot, 0 in the second).
//
// One step (valid; clear on a pass's first step, last on its last) enters per cycle. Stages:
//   1  input registers: the activations replicated once per GROUP units (the broadcast's fanout),
//      the codes (the weight banks' output register), the step's control;
//   CORE_LAT  the row units (msp_lut_row / msp_dsp_pair with PIPE = 1; the faster core's sums are
//      delayed to the slower one's);
//   1  accumulate: acc = (clear ? 0 : acc) + sum, into the pass's accumulator bank.
// Two banks of accumulators alternate by pass, so a pass's result can wait in its bank for the
// caller (result_valid, result; `take` when copied) while the next pass accumulates into the other:
// the caller must have taken pass p before pass p + 2's first step reaches the accumulate stage
// (LATENCY cycles after it entered): msp_engine keeps that by counting the passes in flight.
// Either core may be absent: LUT_ROWS = 0 is a DSP-only array, DSP_ROWS = 0 a LUT-only one (the
// resources script's per-MAC probes). An absent core's code inputs shrink to one unused bit, so no
// vector has zero or negative width; LUT_ROWS + DSP_ROWS >= 1.
`default_nettype none
module msp_mac_array #(
    parameter integer VW       = 16,
    parameter integer LUT_ROWS = 41,
    parameter integer DSP_ROWS = 24,              // even: DSP_ROWS / 2 pairs
    parameter integer GROUP    = 8                // units per copy of the activation broadcast
) (
    input  wire                         clk,
    input  wire                         rst,         // also at each layer's start: banks, counts
    input  wire                         valid,       // a, codes hold one K-step
    input  wire                         clear,       // this step is the first of a pass
    input  wire                         last,        // this step is the last of a pass
    input  wire [9*VW-1:0]              a,           // VW activations, 9-bit signed each
    input  wire [(LUT_ROWS > 0 ? 4*VW*LUT_ROWS : 1)-1:0] lut_codes,   // LUT row r's VW SP2-4 codes at [4*VW*r +: 4*VW]
    input  wire [(DSP_ROWS > 0 ? 4*VW*DSP_ROWS : 1)-1:0] dsp_codes,   // DSP slot s's VW nibbles at [4*VW*s +: 4*VW]
    input  wire [(DSP_ROWS > 1 ? DSP_ROWS/2 : 1)-1:0]    dsp_fixed8,  // per pair: slots 2p, 2p+1 hold one fixed-8 row
    output wire                         result_valid,   // the oldest finished pass waits in `result`
    output wire [32*(LUT_ROWS+DSP_ROWS)-1:0] result,  // LUT rows first, then DSP slots; int32 each
    input  wire                         take            // the caller copied `result` this cycle
);
    localparam integer U = LUT_ROWS + DSP_ROWS;
    localparam integer LW = 13 + $clog2(VW), DW = 17 + $clog2(VW);
    localparam integer LUT_LAT = LUT_ROWS > 0 ? 1 + ($clog2(2 * VW + (VW > 16 ? (VW + 7) / 8 : 2)) + 1) / 2 : 0;   // msp_lut_row
    localparam integer DSP_LAT = DSP_ROWS > 0 ? 3 + ($clog2(VW) + 1) / 2 + 2 : 0;        // msp_dsp_pair
    localparam integer CORE_LAT = LUT_LAT > DSP_LAT ? LUT_LAT : DSP_LAT;
    localparam integer LATENCY = 1 + CORE_LAT + 1;     // a step's inputs to its accumulator write
    localparam integer NG = (U + GROUP - 1) / GROUP;

    // ---- stage 1: input registers ----
    (* keep = "true" *) reg [9*VW-1:0] a_r [0:NG-1];   // one copy per GROUP units (not merged)
    reg [(LUT_ROWS > 0 ? 4*VW*LUT_ROWS : 1)-1:0] lut_codes_r;
    reg [(DSP_ROWS > 0 ? 4*VW*DSP_ROWS : 1)-1:0] dsp_codes_r;
    reg [(DSP_ROWS > 1 ? DSP_ROWS/2 : 1)-1:0]    fixed8_r;
    reg in_bank;                                   // the bank of the pass entering
    wire bank = clear ? !in_bank : in_bank;
    integer gi;
    always @(posedge clk) begin
        for (gi = 0; gi < NG; gi = gi + 1) a_r[gi] <= a;
        lut_codes_r <= lut_codes; dsp_codes_r <= dsp_codes; fixed8_r <= dsp_fixed8;
        if (rst) in_bank <= 1'b1;                  // the first pass goes to bank 0
        else if (valid) in_bank <= bank;
    end
    // the step's control, LATENCY - 1 cycles to the accumulate stage
    reg [LATENCY-2:0] v_d, c_d, l_d, b_d;
    always @(posedge clk) begin
        v_d <= rst ? {(LATENCY-1){1'b0}} : {v_d[LATENCY-3:0], valid};
        c_d <= {c_d[LATENCY-3:0], clear};
        l_d <= {l_d[LATENCY-3:0], last};
        b_d <= {b_d[LATENCY-3:0], bank};
    end

    // ---- the accumulate stage, replicated control per group ----
    (* keep = "true" *) reg [NG-1:0] acc_v, acc_c, acc_b;   // the step at the accumulate stage
    always @(posedge clk) begin
        acc_v <= rst ? {NG{1'b0}} : {NG{v_d[LATENCY-3]}};
        acc_c <= {NG{c_d[LATENCY-3]}};
        acc_b <= {NG{b_d[LATENCY-3]}};
    end
    // a pass's result lands when its last step is accumulated
    wire landing = v_d[LATENCY-2] && l_d[LATENCY-2];
    reg [1:0] n_done;                              // finished passes not yet taken (0..2)
    reg       rd_bank;
    always @(posedge clk)
        if (rst) begin
            n_done <= 2'd0; rd_bank <= 1'b0;
        end else begin
            n_done <= n_done + landing - take;
            if (take) rd_bank <= !rd_bank;
        end
    assign result_valid = n_done != 2'd0;

    wire [32*U-1:0] step;                           // per unit: the step's row sum, int32
    genvar r;
    generate                                      // a core with no rows generates nothing
        for (r = 0; r < LUT_ROWS; r = r + 1) begin : lut
            wire signed [LW-1:0] s;
            msp_lut_row #(.VW(VW), .PIPE(1)) row (.clk(clk), .a(a_r[r / GROUP]),
                .codes(lut_codes_r[4*VW*r +: 4*VW]), .sum(s));
            if (CORE_LAT > LUT_LAT) begin : align
                reg signed [LW-1:0] dl [0:CORE_LAT-LUT_LAT-1];
                integer t;
                always @(posedge clk) begin
                    dl[0] <= s;
                    for (t = 1; t < CORE_LAT - LUT_LAT; t = t + 1) dl[t] <= dl[t-1];
                end
                assign step[32*r +: 32] = {{(32 - LW){dl[CORE_LAT-LUT_LAT-1][LW-1]}}, dl[CORE_LAT-LUT_LAT-1]};
            end else begin : same
                assign step[32*r +: 32] = {{(32 - LW){s[LW-1]}}, s};
            end
        end
        for (r = 0; r < DSP_ROWS / 2; r = r + 1) begin : dsp
            wire signed [DW-1:0] sa, sb;
            localparam integer A = LUT_ROWS + 2 * r;
            msp_dsp_pair #(.VW(VW), .PIPE(1)) pair (.clk(clk), .a(a_r[A / GROUP]),
                .codes_a(dsp_codes_r[4*VW*(2*r) +: 4*VW]), .codes_b(dsp_codes_r[4*VW*(2*r+1) +: 4*VW]),
                .fixed8(fixed8_r[r]), .sum_a(sa), .sum_b(sb));
            if (CORE_LAT > DSP_LAT) begin : align
                reg signed [2*DW-1:0] dl [0:CORE_LAT-DSP_LAT-1];
                integer t;
                always @(posedge clk) begin
                    dl[0] <= {sb, sa};
                    for (t = 1; t < CORE_LAT - DSP_LAT; t = t + 1) dl[t] <= dl[t-1];
                end
                wire signed [DW-1:0] da = dl[CORE_LAT-DSP_LAT-1][DW-1:0], db = dl[CORE_LAT-DSP_LAT-1][2*DW-1:DW];
                assign step[32*A +: 32] = {{(32 - DW){da[DW-1]}}, da};
                assign step[32*(A+1) +: 32] = {{(32 - DW){db[DW-1]}}, db};
            end else begin : same
                assign step[32*A +: 32] = {{(32 - DW){sa[DW-1]}}, sa};
                assign step[32*(A+1) +: 32] = {{(32 - DW){sb[DW-1]}}, sb};
            end
        end
        for (r = 0; r < U; r = r + 1) begin : acc
            reg signed [31:0] bank0, bank1;
            localparam integer G = r / GROUP;
            wire signed [31:0] base = acc_c[G] ? 32'sd0 : (acc_b[G] ? bank1 : bank0);
            wire signed [31:0] sum = base + $signed(step[32*r +: 32]);
            always @(posedge clk)
                if (acc_v[G]) begin
                    if (acc_b[G]) bank1 <= sum;
                    else bank0 <= sum;
                end
            assign result[32*r +: 32] = rd_bank ? bank1 : bank0;
        end
    endgenerate
endmodule
`default_nettype wire
