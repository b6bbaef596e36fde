// msp_output_stage: from the array's accumulators to the output stream.
//  - capture: when a pass of an output position ends, its U = LUT_ROWS + DSP_ROWS accumulators
//    (or the pool unit's VW lanes) are copied into a holding register, so the next pass can start,
//    and from there into the drain's shadow once the previous pass is drained (the drain may lag
//    the array by a pass without stalling it);
//  - drain: the shadow's used units, two per cycle in engine channel order, get their row's bias
//    and requantization (docs/numerics.md 6, msp_out_lane: msp_requant_pipe), or pass raw
//    (RAW_OUT, 4 bytes) or as they are (max pool), and land in a staging ring at their position's
//    base plus their output channel (two banks by ring index parity, so two consecutive channels
//    are written at once);
//  - send: once a position's last items are written, its channels (one position of the NHWC
//    output) go to the stream packer, two per cycle, while later positions fill the ring.
// Units of pass p (conv2d/linear): LUT unit u holds SP2 row p*LUT_ROWS + u; DSP slot s holds
// fixed-4 row p*DSP_ROWS + s, or, from slot f8_base (the fixed-4 count rounded up to even) on,
// fixed-8 row (p*DSP_ROWS + s - f8_base) / 2 in its even slot. Pool ops: unit u of pass p is
// channel p*VW + u. The row parameter RAM (8 bytes per row, engine order) lives here too.
//
// Pipelining (every register-to-register path a few logic levels, docs/timing.md):
//  - at start, a pass table is built, one pass per cycle through a short pipeline: each pass's
//    items as up to three non-empty segments (LUT rows, fixed-4 slots, fixed-8 pairs: count,
//    first unit, first channel, unit stride) and whether a lane pair may straddle two segments
//    (channel parities differ). The drain loads a pass from the table (a LUT-RAM read) and walks
//    its segments with registered counters and flags: the same schedule as before (two items per
//    cycle, one where a pair would write one bank twice; a pass takes its items' cycles plus one).
//  - a drained item: stage 1 the shadow word and the parameter RAM read, 2 the RAM's output
//    register, 3..9 msp_out_lane, 10 the staging write's registers (address, data), 11 the write.
//    Tokens travel alongside (lane valid, ring index, a position's end); a position is counted
//    written on the edge of its last staging write, and its send may start the next cycle.
//  - the staging ring holds 2 * MAX_ROWS channels (the two halves of before); up to K positions
//    (2..16, as many as fit) are reserved at once, so the send of one position overlaps the
//    drain of the next ones and the deeper pipeline costs the layer its latency only once.
`include "msp_contract.vh"
`default_nettype none
module msp_output_stage #(
    parameter integer VW       = 16,
    parameter integer LUT_ROWS = 41,
    parameter integer DSP_ROWS = 24,
    parameter integer MAX_ROWS = 1024
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire                  start,           // one cycle: a new layer (latch the geometry)
    input  wire [1:0]            mode,            // 0 requant per row, 1 raw int32, 2 requant (global avg pool), 3 as is (max pool)
    input  wire [15:0]           out_ch,          // channels per position
    input  wire [15:0]           passes,
    input  wire [15:0]           n_sp2, n_f4, n_f8,
    input  wire [15:0]           mult,            // global avg pool
    input  wire [5:0]            shift,           // global avg pool
    input  wire                  out_signed,
    input  wire [3:0]            out_bits,
    // row parameter writes (the params packet: one beat per row)
    input  wire                  prm_we,
    input  wire [$clog2(MAX_ROWS)-1:0] prm_row,
    input  wire [63:0]           prm_data,
    // capture
    output wire                  can_capture,
    input  wire                  capture,
    output wire [1:0]            n_open,           // passes here not yet drained: held, in the drain
    input  wire [32*(LUT_ROWS+DSP_ROWS)-1:0] acc,
    // to the stream packer
    output reg                   out_valid,
    output reg  [63:0]           out_data,
    output reg  [3:0]            out_nbytes,
    input  wire                  out_ready
);
    localparam integer U = LUT_ROWS + DSP_ROWS, RB = $clog2(MAX_ROWS);
    localparam integer UW = $clog2(U + 2);         // a unit index (and the unit after it)
    localparam integer CW = $clog2(U + 1);         // a segment's item count (at most max(LUT_ROWS, DSP_ROWS, VW) < U)
    localparam integer RI = RB + 1;                // staging ring index: 2 * MAX_ROWS channels
    // passes of a layer: SP2 rows, DSP slots (a fixed-8 row takes two), pool channel groups
    localparam integer P_LUT = LUT_ROWS > 0 ? (MAX_ROWS + LUT_ROWS - 1) / LUT_ROWS : 1;
    localparam integer P_DSP = DSP_ROWS > 0 ? (2 * MAX_ROWS + 2 * DSP_ROWS - 1) / DSP_ROWS : 1;
    localparam integer P_POOL = (MAX_ROWS + VW - 1) / VW;
    localparam integer MAXP = P_LUT > P_DSP ? (P_LUT > P_POOL ? P_LUT : P_POOL) : (P_DSP > P_POOL ? P_DSP : P_POOL);
    localparam integer PW = $clog2(MAXP + 1);
    localparam integer SEG = CW + UW + RB + 1;     // a segment: {stride 2, count, first unit, first channel}
    localparam integer TE = 2 + 2 + 3 * SEG;       // a table entry: {segments, straddle 0-1, 1-2, seg2, seg1, seg0}
    // and each segment's derived values (stored beside it, computed as the table is built):
    // {u+1, u+2 (x2 with stride 2), c+1, c+2, n-1, n==1, n==2, n==3, n>=2, n>=3}
    localparam integer DW = 2 * UW + 2 * RB + CW + 5;
    localparam integer O_U1 = DW - UW, O_U2 = O_U1 - UW, O_C1 = O_U2 - RB, O_C2 = O_C1 - RB, O_NM1 = 5;
    localparam integer D0 = UW + RB + 2;           // of the first segment only {u+1, c+1, n==2, n>=2}
    localparam integer TT = TE + D0 + 2 * DW;      // the stored entry: {d2, d1, d0, entry}
    localparam [15:0] L16 = LUT_ROWS, D16 = DSP_ROWS, V16 = VW;

    reg [1:0]  mode_r;
    reg [15:0] och, np_m1, s2, f4, f8_base, f8e, mult_r;     // f8e: the fixed-8 rows' end
    reg [5:0]  shift_r;
    reg        osig;
    reg [3:0]  obits;
    wire       pool = mode_r[1];
    reg  [15:0] np_r, f8_r;
    reg  [1:0]  init;                              // the two cycles after start
    reg         k16, k8, k4, k3;                   // och fits the ring 16, 8, 4, 3 times

    reg [63:0] prm [0:MAX_ROWS-1];
    always @(posedge clk) if (prm_we) prm[prm_row] <= prm_data;

    // ---- the pass table, built at start ----
    // a segment's fields
    function [UW-1:0] sg_u(input [SEG-1:0] sg); sg_u = sg[RB +: UW]; endfunction
    function [RB-1:0] sg_c(input [SEG-1:0] sg); sg_c = sg[RB-1:0]; endfunction
    function [CW-1:0] sg_n(input [SEG-1:0] sg); sg_n = sg[RB+UW +: CW]; endfunction
    function          sg_st(input [SEG-1:0] sg); sg_st = sg[SEG-1]; endfunction
    (* ram_style = "distributed" *) reg [TT-1:0] tab [0:(1 << PW)-1];   // LUT-RAM: read on the drain's load
    reg          tb_run, tdone_p, tdone;          // building; built (and the first entry read)
    reg [PW-1:0] tb_p;                            // pass entering the build pipeline
    reg [3:0]    tb_v;                            // build stages valid
    reg [PW-1:0] tb_p1, tb_p2, tb_p3, tb_p4;
    reg signed [16:0] d_a, d_b, d_lo, d_hi;       // s2 (pool: och) - lbase, f4 - dbase, f8_base - dbase, f8e - dbase
    // each clamp's compares, kept with its difference (updated with it, so T1 only picks):
    // d > 0 and d >= the pass's step (LUT_ROWS, or VW pooling, for d_a; DSP_ROWS for d_b and d_hi)
    reg               a_pos_p, a_ge_p, a_pos_c, a_ge_c, b_pos, b_ge, hi_pos, hi_ge;
    wire              a_pos = pool ? a_pos_p : a_pos_c, a_ge = pool ? a_ge_p : a_ge_c;
    wire signed [17:0] step_d = $signed({2'b0, D16});
    reg [15:0]   lb, db;                          // lbase, dbase of pass tb_p
    // T1: clamps
    reg [CW-1:0] t1_na, t1_nb;
    reg [15:0]   t1_ca, t1_cb, t1_off;
    reg [15:0]   t1_lo, t1_hi;
    always @(posedge clk) begin
        t1_na <= !a_pos ? 0 : a_ge ? (pool ? VW : LUT_ROWS) : d_a[CW-1:0];
        t1_nb <= (pool || !b_pos) ? 0 : b_ge ? DSP_ROWS : d_b[CW-1:0];
        t1_lo <= (d_lo > 0) ? d_lo[15:0] : 16'd0;
        t1_hi <= (pool || !hi_pos) ? 16'd0 : hi_ge ? D16 : d_hi[15:0];
        t1_ca <= lb; t1_cb <= s2 + db;
        t1_off <= (d_lo > 0) ? 16'd0 : db - f8_base;          // max(f8_base, dbase) - f8_base
        tb_p1 <= tb_p;
    end
    // The clamps' flags follow their differences' updates (init[0], init[1], the build's passes);
    // outside a build nothing reads them, so no reset or start gates them. Each is the sign of a
    // difference (one carry chain: the synthesis made compares with a constant into LUT trees
    // three levels deep), and d_a's come in two sets, one per step (VW pooling, LUT_ROWS else),
    // so each compares with one constant and the mode picks at T1.
    wire signed [17:0] och_s = {2'b0, och}, s2_s = {2'b0, s2}, da_s = d_a, db_s = d_b, dh_s = d_hi;
    wire signed [17:0] x_och = och_s - $signed({2'b0, V16}), x_s2 = s2_s - $signed({2'b0, L16});
    wire signed [17:0] x_a1p = da_s - $signed({2'b0, V16}) - 18'sd1, x_a2p = da_s - $signed({1'b0, V16, 1'b0});
    wire signed [17:0] x_a1c = da_s - $signed({2'b0, L16}) - 18'sd1, x_a2c = da_s - $signed({1'b0, L16, 1'b0});
    wire signed [17:0] x_b1 = db_s - step_d - 18'sd1, x_b2 = db_s - 2 * step_d;
    wire signed [17:0] x_h1 = dh_s - step_d - 18'sd1, x_h2 = dh_s - 2 * step_d;
    always @(posedge clk) begin
        if (init[0]) begin
            a_pos_p <= och != 0; a_ge_p <= !x_och[17]; a_pos_c <= s2 != 0; a_ge_c <= !x_s2[17];
            b_pos <= f4 != 0; b_ge <= f4 >= D16;
        end
        if (init[1]) begin hi_pos <= f8e != 0; hi_ge <= f8e >= D16; end
        if (tb_run) begin
            a_pos_p <= !x_a1p[17]; a_ge_p <= !x_a2p[17]; a_pos_c <= !x_a1c[17]; a_ge_c <= !x_a2c[17];
            b_pos <= !x_b1[17]; b_ge <= !x_b2[17]; hi_pos <= !x_h1[17]; hi_ge <= !x_h2[17];
        end
    end
    // T2: the fixed-8 segment
    reg [CW-1:0] t2_na, t2_nb, t2_nc;
    reg [RB-1:0] t2_ca, t2_cb, t2_cc;
    reg [UW-1:0] t2_uc;
    always @(posedge clk) begin
        t2_na <= t1_na; t2_nb <= t1_nb; t2_ca <= t1_ca[RB-1:0]; t2_cb <= t1_cb[RB-1:0];
        t2_nc <= (t1_hi > t1_lo) ? (t1_hi - t1_lo) >> 1 : 0;
        t2_uc <= LUT_ROWS + t1_lo[UW-1:0];
        t2_cc <= s2[RB-1:0] + f4[RB-1:0] + t1_off[RB:1];
        tb_p2 <= tb_p1;
    end
    // T3: non-empty segments in order; T4: straddle flags (the parity of a segment's last channel
    // against the next one's first)
    wire ea = t2_na != 0, eb = t2_nb != 0, ec = t2_nc != 0;
    wire [SEG-1:0] sa = {1'b0, t2_na, {UW{1'b0}}, t2_ca}, sb = {1'b0, t2_nb, L16[UW-1:0], t2_cb},
                   sc = {1'b1, t2_nc, t2_uc, t2_cc};
    reg  [SEG-1:0] t3_s0, t3_s1, t3_s2;
    reg  [1:0]     t3_n;
    always @(posedge clk) begin
        t3_s0 <= ea ? sa : eb ? sb : sc;
        t3_s1 <= (ea && eb) ? sb : sc;
        t3_s2 <= sc;
        t3_n <= ea + eb + ec;
        tb_p3 <= tb_p2;
    end
    function parity_last(input [SEG-1:0] sg);      // parity of the segment's last channel
        parity_last = sg[0] ^ sg[RB+UW] ^ 1'b1;     // first channel + count - 1
    endfunction
    genvar j;
    generate
        for (j = 0; j < 3; j = j + 1) begin : segd
            wire [SEG-1:0] sg = j == 0 ? t3_s0 : j == 1 ? t3_s1 : t3_s2;
            wire [UW-1:0]  u1 = sg_u(sg) + (sg_st(sg) ? 2'd2 : 2'd1);
            wire [RB-1:0]  c1 = sg_c(sg) + 1'b1;
            wire           f2 = sg_n(sg) == 2, f2p = sg_n(sg) >= 2;
            if (j > 0) begin : all                 // (the first segment's cursor needs only these)
                wire [UW-1:0] u2 = sg_u(sg) + (sg_st(sg) ? 3'd4 : 3'd2);
                wire [RB-1:0] c2 = sg_c(sg) + 2'd2;
                wire [CW-1:0] nm1 = sg_n(sg) - 1'b1;
                wire [DW-1:0] d = {u1, u2, c1, c2, nm1, sg_n(sg) == 1, f2, sg_n(sg) == 3, f2p, sg_n(sg) >= 3};
            end
        end
    endgenerate
    reg [TT-1:0] t4_e;
    always @(posedge clk) begin
        t4_e <= {segd[2].all.d, segd[1].all.d, segd[0].u1, segd[0].c1, segd[0].f2, segd[0].f2p,
                 t3_n, parity_last(t3_s1) != t3_s2[0], parity_last(t3_s0) != t3_s1[0], t3_s2, t3_s1, t3_s0};
        tb_p4 <= tb_p3;
        if (tb_v[3]) tab[tb_p4] <= t4_e;
    end

    // ---- capture and drain ----
    reg [32*U-1:0] held, shadow;
    reg            held_full;                     // a captured pass waits for the drain
    reg            busy;                          // the shadow holds a pass not yet drained
    reg [PW-1:0]   pass;                          // pass of the shadow / the next one
    reg            last_pass;                     // pass == np - 1
    assign can_capture = !held_full;
    // (a held pass that cannot move on yet, before the pass table is built, counts as two: the
    // engine's open-pass rule takes a held pass to mean a busy drain behind it)
    // (as gates, not a sum: a carry chain here sat on the engine's stall path)
    assign n_open = {held_full && (busy || !tdone), held_full ? !busy && tdone : busy};

    // the cursor: the current segment's item (unit, channel), the one after it, items left and
    // their flags; the next two segments; whether a lane pair may straddle into the next segment
    reg [UW-1:0]   cu, cu1;
    reg [RB-1:0]   cc, cc1;
    reg [CW-1:0]   crem;
    reg            cst, cf2, cf2p, cempty;        // cf2: 2 items left, cf2p: 2 or more (else 1)
    reg [SEG-1:0]  q1, q2;
    reg            hq1, hq2, pok01, pok12;
    reg [DW-1:0]   q1d, q2d;                      // the queued segments' derived values
    // the next pass's entry, read a cycle ahead (loads are two cycles apart at least), with its
    // segments' derived values from the table: the cursor's next values are picks of registers
    reg [PW-1:0]   pass_nx;                       // the pass the next load takes
    reg [TT-1:0]   te;
    reg            te_empty, te_h1, te_h2;
    wire [DW-1:0]  te_d1 = te[TE+D0 +: DW], te_d2 = te[TE+D0+DW +: DW];
    wire [UW-1:0]  te_u1;                         // its first segment: the unit and channel after the first
    wire [RB-1:0]  te_c1;
    wire           te_f2, te_f2p;
    assign {te_u1, te_c1, te_f2, te_f2p} = te[TE +: D0];
    always @(posedge clk) begin
        te <= tab[pass_nx];
        te_empty <= tab[pass_nx][TE-1:TE-2] == 0; te_h1 <= tab[pass_nx][TE-1:TE-2] >= 2; te_h2 <= tab[pass_nx][TE-1:TE-2] == 3;
    end

    // ring reservations: a position takes och ring entries when its first items issue
    reg [15:0]     nfree, nready;                 // thermometer codes: positions the ring can still take; written, not sent
    reg            resv;                          // the position being drained holds its reservation
    reg [RI-1:0]   wbase, sbase;                  // ring index of the position drained / sent
    wire           go = busy && (resv || nfree[0]);
    wire           straddle = hq1 && pok01;
    wire           lane0 = go && !cempty;
    wire           lane1 = lane0 && (cf2p || straddle);
    wire [UW-1:0]  u1 = cf2p ? cu1 : sg_u(q1);
    wire [RB-1:0]  ch1 = cf2p ? cc1 : sg_c(q1);
    wire           q1_one = q1d[4];
    // the pass ends with this cycle's items
    wire           done = go && (cempty || (cf2p ? (cf2 && !hq1) : (straddle ? (q1_one && !hq2) : !hq1)));
    wire           fin_now = done && last_pass;  // a position's last items issue

    // drain pipeline, per lane: stage 1 the shadow word and the parameter RAM read, 2 the RAM's
    // output register, 3..PIPE msp_out_lane (bias add, msp_requant_pipe), then the staging write's
    // registers and the write. Tokens per stage: lane valid, ring index, a position's end.
    localparam integer PIPE = 2 + 7;              // stage of the lane results (msp_out_lane: 7 after stage 2)
    reg [31:0]   v0_1, v1_1, v0_2, v1_2;
    reg [63:0]   p0_1, p1_1, p0_2, p1_2;
    reg [RB-1:0] ch0_1, ch1_1;
    reg [RI-1:0] base_1;
    always @(posedge clk) begin
        v0_1 <= shadow[32*cu +: 32];
        v1_1 <= shadow[32*u1 +: 32];
        p0_1 <= prm[cc];
        p1_1 <= prm[ch1];
        ch0_1 <= cc; ch1_1 <= ch1; base_1 <= wbase;
        p0_2 <= p0_1; p1_2 <= p1_1;               // the BRAM's output register
        v0_2 <= v0_1; v1_2 <= v1_1;
    end
    reg [PIPE:1]  dv0, dv1, dfin;                 // tokens: lane 0 / lane 1 valid, a position's end
    reg [RI-1:0]  dra0 [2:PIPE], dra1 [2:PIPE];   // ring indices
    integer k;
    always @(posedge clk) begin
        dra0[2] <= base_1 + ch0_1; dra1[2] <= base_1 + ch1_1;
        for (k = 3; k <= PIPE; k = k + 1) begin dra0[k] <= dra0[k-1]; dra1[k] <= dra1[k-1]; end
    end
    wire [31:0] r0, r1;
    msp_out_lane lane_a (.clk(clk), .mode(mode_r), .v(v0_2), .prm(p0_2), .mult(mult_r), .shift(shift_r),
                         .out_signed(osig), .out_bits(obits), .result(r0));
    msp_out_lane lane_b (.clk(clk), .mode(mode_r), .v(v1_2), .prm(p1_2), .mult(mult_r), .shift(shift_r),
                         .out_signed(osig), .out_bits(obits), .result(r1));

    // staging ring: two banks by ring index parity, row = index / 2
    reg [31:0] stage0 [0:MAX_ROWS-1];
    reg [31:0] stage1 [0:MAX_ROWS-1];
    wire [RI-1:0] a0 = dra0[PIPE], a1 = dra1[PIPE];
    wire w0_is_0 = dv0[PIPE] && !a0[0], w1_is_0 = dv1[PIPE] && !a1[0];
    wire w0_is_1 = dv0[PIPE] && a0[0],  w1_is_1 = dv1[PIPE] && a1[0];
    reg          we0, we1, wfin;
    reg [RB-1:0] wa0, wa1;
    reg [31:0]   wd0, wd1;
    always @(posedge clk) begin
        wa0 <= w0_is_0 ? a0[RI-1:1] : a1[RI-1:1]; wd0 <= w0_is_0 ? r0 : r1;
        wa1 <= w0_is_1 ? a0[RI-1:1] : a1[RI-1:1]; wd1 <= w0_is_1 ? r0 : r1;
        if (we0) stage0[wa0] <= wd0;
        if (we1) stage1[wa1] <= wd1;
    end

    // ---- send: channels 2k and 2k + 1 of the oldest written position per cycle ----
    reg         sv, s_two, s_odd, sq_odd;
    reg [15:0]  srem;                             // channels of the position not yet issued
    reg [RB-1:0] srow0, srow1;                    // bank rows of the pair (an odd base: channel 2k in bank 1)
    reg [31:0]  sq0, sq1;
    reg [15:0]  och_p1;
    reg         s_last;                           // the next pair is the position's last
    wire        sadv = !out_valid || out_ready;
    wire        sissue = nready[0] && sadv;
    wire        s_end = sissue && s_last;
    wire [RI-1:0] sbase_n = sbase + och[RI-1:0];
    wire [RI-1:0] sbase_n1 = sbase + och_p1[RI-1:0];
    always @(posedge clk)
        if (sissue) begin
            sq0 <= stage0[srow0];
            sq1 <= stage1[srow1];
            sq_odd <= s_odd;
        end
    wire [31:0] ch_even = sq_odd ? sq1 : sq0, ch_odd = sq_odd ? sq0 : sq1;

    always @(posedge clk) begin
        if (rst || start) begin
            busy <= 1'b0; held_full <= 1'b0; dv0 <= 0; dv1 <= 0; dfin <= 0; we0 <= 1'b0; we1 <= 1'b0; wfin <= 1'b0;
            nready <= 0; resv <= 1'b0; wbase <= 0; sbase <= 0; srow0 <= 0; srow1 <= 0; s_odd <= 1'b0;
            sv <= 1'b0; out_valid <= 1'b0; tb_run <= 1'b0; tdone_p <= 1'b0; tdone <= 1'b0; tb_v <= 0; pass_nx <= 0;
            init <= {1'b0, start};
            if (start) begin                           // latch the layer; derived values in the next two cycles
                mode_r <= mode; och <= out_ch; np_r <= passes; s2 <= n_sp2; f4 <= n_f4; f8_r <= n_f8;
                mult_r <= mult; shift_r <= shift; osig <= out_signed; obits <= out_bits; pass <= 0;
            end
        end else begin
            init <= {init[0], 1'b0};
            if (init[0]) begin
                f8_base <= f4 + f4[0]; f8e <= f4 + f4[0] + 2 * f8_r; och_p1 <= och + 16'd1; np_m1 <= np_r - 16'd1;
                s_last <= och <= 16'd2; srem <= och;
                k16 <= och <= MAX_ROWS / 8; k8 <= och <= MAX_ROWS / 4; k4 <= och <= MAX_ROWS / 2;
                k3 <= och <= 2 * MAX_ROWS / 3;
                d_a <= $signed({1'b0, pool ? och : s2}); d_b <= $signed({1'b0, f4});
            end
            if (init[1]) begin                         // the table build's first pass
                // positions the ring holds at once (och <= MAX_ROWS = half the ring)
                nfree <= k16 ? 16'hFFFF : k8 ? 16'h00FF : k4 ? 16'h000F : k3 ? 16'h0007 : 16'h0003;
                d_lo <= $signed({1'b0, f8_base}); d_hi <= $signed({1'b0, f8e});
                tb_run <= 1'b1; tb_p <= 0; lb <= 0; db <= 0;
            end
            // the pass table: one pass per cycle into the build pipeline
            tb_v <= {tb_v[2:0], tb_run};
            if (tb_run) begin
                tb_p <= tb_p + 1'b1;
                if ({{(16-PW){1'b0}}, tb_p} == np_m1) tb_run <= 1'b0;
                lb <= lb + (pool ? V16 : L16); db <= db + D16;
                d_a <= d_a - (pool ? $signed({1'b0, V16}) : $signed({1'b0, L16}));
                d_b <= d_b - $signed({1'b0, D16}); d_lo <= d_lo - $signed({1'b0, D16}); d_hi <= d_hi - $signed({1'b0, D16});
            end
            if (tb_v[3] && !tb_v[2]) tdone_p <= 1'b1;  // the last entry is written
            tdone <= tdone_p;
            last_pass <= {{(16-PW){1'b0}}, pass} == np_m1;
            // capture into the holding register; pass `pass` enters the shadow from the table
            if (capture && !held_full) begin held <= acc; held_full <= 1'b1; end
            if (held_full && !busy && tdone) begin
                shadow <= held; held_full <= 1'b0; busy <= 1'b1;
                pass_nx <= ({{(16-PW){1'b0}}, pass_nx} == np_m1) ? 0 : pass_nx + 1'b1;
                cu <= sg_u(te[SEG-1:0]); cc <= sg_c(te[SEG-1:0]); cst <= sg_st(te[SEG-1:0]);
                cu1 <= te_u1; cc1 <= te_c1; crem <= sg_n(te[SEG-1:0]);
                cf2 <= te_f2; cf2p <= te_f2p;
                q1 <= te[SEG +: SEG]; q2 <= te[2*SEG +: SEG]; q1d <= te_d1; q2d <= te_d2;
                pok01 <= te[3*SEG]; pok12 <= te[3*SEG+1];
                cempty <= te_empty; hq1 <= te_h1; hq2 <= te_h2;
            end
            // the drain: the cursor's items, then the next segment
            if (lane0) begin
                if (cf2p && !cf2) begin                          // two more of this segment
                    cu <= cu + (cst ? 3'd4 : 3'd2); cu1 <= cu1 + (cst ? 3'd4 : 3'd2);
                    cc <= cc + 2'd2; cc1 <= cc1 + 2'd2; crem <= crem - 2'd2;
                    cf2 <= crem == 4; cf2p <= crem >= 4;
                end else if (straddle && !cf2p && !q1_one) begin // the rest of q1, its first item issued
                    cu <= q1d[O_U1 +: UW]; cu1 <= q1d[O_U2 +: UW];
                    cc <= q1d[O_C1 +: RB]; cc1 <= q1d[O_C2 +: RB]; cst <= sg_st(q1); crem <= q1d[O_NM1 +: CW];
                    cf2 <= q1d[2]; cf2p <= q1d[0];
                    q1 <= q2; q1d <= q2d; hq1 <= hq2; hq2 <= 1'b0; pok01 <= pok12;
                end else if (straddle && !cf2p) begin             // q1 (one item) issued: q2
                    cu <= sg_u(q2); cu1 <= q2d[O_U1 +: UW];
                    cc <= sg_c(q2); cc1 <= q2d[O_C1 +: RB]; cst <= sg_st(q2); crem <= sg_n(q2);
                    cf2 <= q2d[3]; cf2p <= q2d[1];
                    hq1 <= 1'b0; hq2 <= 1'b0;
                end else begin                                   // this segment is done: q1
                    cu <= sg_u(q1); cu1 <= q1d[O_U1 +: UW];
                    cc <= sg_c(q1); cc1 <= q1d[O_C1 +: RB]; cst <= sg_st(q1); crem <= sg_n(q1);
                    cf2 <= q1d[3]; cf2p <= q1d[1];
                    q1 <= q2; q1d <= q2d; hq1 <= hq2; hq2 <= 1'b0; pok01 <= pok12;
                end
            end
            dv0 <= {dv0[PIPE-1:1], lane0}; dv1 <= {dv1[PIPE-1:1], lane1}; dfin <= {dfin[PIPE-1:1], fin_now};
            we0 <= w0_is_0 || w1_is_0; we1 <= w0_is_1 || w1_is_1; wfin <= dfin[PIPE];
            // reservations: a position's first go takes its ring entries
            if (go && !resv) resv <= 1'b1;
            if (done) begin
                busy <= 1'b0;
                if (last_pass) begin
                    pass <= 0; resv <= 1'b0; wbase <= wbase + och[RI-1:0];
                end else pass <= pass + 1'b1;
            end
            // (one up or down a cycle: no carry chain behind the drain's and the send's conditions)
            case ({go && !resv, s_end})
                2'b10: nfree <= {1'b0, nfree[15:1]};
                2'b01: nfree <= {nfree[14:0], 1'b1};
                default: ;
            endcase
            case ({wfin, s_end})                       // written: on the edge of its last staging writes
                2'b10: nready <= {nready[14:0], 1'b1};
                2'b01: nready <= {1'b0, nready[15:1]};
                default: ;
            endcase
            // send the oldest written position, two channels per cycle
            if (sadv) begin
                sv <= sissue;
                out_valid <= sv;
                if (sv) begin
                    out_data <= (mode_r == 2'd1) ? {ch_odd, ch_even} : {48'd0, ch_odd[7:0], ch_even[7:0]};
                    out_nbytes <= (s_two ? 4'd2 : 4'd1) * ((mode_r == 2'd1) ? 4'd4 : 4'd1);
                end
            end
            if (sissue) begin
                s_two <= !s_last || !och[0];
                if (s_last) begin
                    srem <= och; s_last <= och <= 16'd2; sbase <= sbase_n;
                    srow1 <= sbase_n[RI-1:1]; srow0 <= sbase_n1[RI-1:1]; s_odd <= sbase_n[0];
                end else begin
                    srem <= srem - 16'd2; s_last <= srem <= 16'd4; srow0 <= srow0 + 1'b1; srow1 <= srow1 + 1'b1;
                end
            end
        end
    end
endmodule

// msp_out_lane: one drained value: bias and requantization (per-row parameters), raw int32, the
// global average pool's requantization, or the max pool's byte as it is. LATENCY = 7 cycles from
// v/prm to result (the bias add is registered by msp_requant_pipe's first stage; the raw and max
// pool values wait alongside).
module msp_out_lane (
    input  wire        clk,
    input  wire [1:0]  mode,
    input  wire [31:0] v,
    input  wire [63:0] prm,                       // a row's parameter record: bias, multiplier, shift
    input  wire [15:0] mult,
    input  wire [5:0]  shift,
    input  wire        out_signed,
    input  wire [3:0]  out_bits,
    output wire [31:0] result
);
    localparam integer RQ = 7;                   // msp_requant_pipe's latency
    wire [31:0] bias = prm[`MSP_ROW_BIAS_LSB +: `MSP_ROW_BIAS_WIDTH];
    wire [15:0] row_mult = prm[`MSP_ROW_MULTIPLIER_LSB +: `MSP_ROW_MULTIPLIER_WIDTH];
    wire [5:0]  row_shift = prm[`MSP_ROW_SHIFT_LSB +: 6];         // (shifts are 0..MSP_SHIFT_MAX)
    wire signed [31:0] with_bias = $signed(v) + (mode[1] ? 32'sd0 : $signed(bias));
    wire [7:0] q;
    msp_requant_pipe rq (.clk(clk), .acc(with_bias), .mult(mode == 2'd2 ? mult : row_mult),
                         .shift(mode == 2'd2 ? shift : row_shift), .out_signed(out_signed), .out_bits(out_bits), .y(q));
    // raw (mode 1) and max pool (mode 3) values, delayed like the requantization
    reg [31:0] alt [1:RQ];
    reg        use_alt;
    integer k;
    always @(posedge clk) begin
        alt[1] <= (mode == 2'd3) ? {24'd0, v[7:0]} : with_bias;
        for (k = 2; k <= RQ; k = k + 1) alt[k] <= alt[k-1];
        use_alt <= mode[0];
    end
    assign result = use_alt ? alt[RQ] : {24'd0, q};
endmodule
`default_nettype wire
