// msp_weight_loader: turns the weight packet (docs/registers.md 5: rows in engine order, 4-bit
// rows ceil(K/2) bytes with a pad nibble for odd K, fixed-8 rows K bytes, codes in (tap, channel)
// order) into the words of the row units' weight banks. A bank word is VW codes of one tap and
// one channel group, padded with zero codes past IN_C, exactly as the activation buffer pads
// pixels, so bank word s of a row meets window step s.
// Row placement: SP2 row r goes to LUT unit r % LUT_ROWS in pass r / LUT_ROWS; fixed rows take
// DSP slots in order (fixed-4 one slot, fixed-8 an aligned pair of slots: low nibbles in the
// even slot, high nibbles in the odd one), slot q in unit LUT_ROWS + q % DSP_ROWS of pass
// q / DSP_ROWS. Pass p of a unit starts at bank word p * steps.
// Checks (BAD_DATA): a fixed-4 code 0b1000, a fixed-8 code 0x80, a non-zero pad nibble; `bad_row`
// is the first offending row (engine order).
`default_nettype none
module msp_weight_loader #(
    parameter integer VW       = 16,
    parameter integer LUT_ROWS = 41,
    parameter integer DSP_ROWS = 24,
    parameter integer AW       = 9               // bank address bits
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              start,              // one cycle: a new layer (latch the geometry, which
                                                 // is held from a cycle before start on)
    input  wire [15:0]       taps,               // kh * kw (1 for linear)
    input  wire [15:0]       chans,              // IN_C (linear: K)
    input  wire [11:0]       groups,             // ceil(chans / VW)
    input  wire [AW-1:0]     steps,              // taps * groups: bank words per row
    input  wire [15:0]       n_sp2, n_f4, n_f8,
    // weight packet bytes, one beat at a time
    input  wire              in_valid,
    input  wire [63:0]       in_data,
    input  wire [7:0]        in_keep,
    input  wire [3:0]        in_nbytes,          // TKEEP's ones, counted a cycle ahead (the beat FIFO)
    output wire              in_ready,
    // bank writes
    output reg               wr_en,
    output reg  [15:0]       wr_unit,
    output reg  [AW-1:0]     wr_addr,
    output reg  [4*VW-1:0]   wr_lo,              // unit wr_unit
    output reg  [4*VW-1:0]   wr_hi,              // unit wr_unit + 1 when wr_pair (fixed-8)
    output reg               wr_pair,
    output reg               done,               // level: every row written
    output reg               bad,                // level: a code broke the contract
    output reg  [15:0]       bad_row
);
    // Timing: every decision is taken from registers. The word's size (`need`) and lane mask are
    // registered a word ahead, and `slack` = fill - need is a register whose sign says the word is
    // there. A beat taken waits a cycle in `pend` before it joins the buffer, so the next slack
    // and fill add a register, not the beat's count (a word may wait that cycle for its last
    // nibbles). The ready is registered, from the fill after this word (a beat is taken while
    // at most CAP - 48 nibbles are held: room for the pending beat, this one and the next). The
    // row kinds, the last group, step and row are flags kept a row or step ahead by counters, not compares
    // against computed sums. `start` sets the first word's size and flags; the cycle after it
    // (init) the ones first needed at the first row's end, need_row a cycle later (from init's flags).
    localparam integer CAP = 2 * VW + 48;        // nibbles held: a fixed-8 word and three beats
    localparam integer FW  = $clog2(CAP + 1);    // fill bits
    localparam integer SW  = $clog2(CAP - 15);   // need (<= 2 VW) and insert position (<= CAP - 16) bits
    reg [63:0]      pend;                        // the beat taken last cycle (zero when none)
    reg [4*CAP-1:0] nb;
    reg [FW-1:0]    fill;
    reg [FW:0]      slack;                       // fill - need (signed)
    reg [SW-1:0]    need, nlast;                 // nibbles of this word; codes of a last-group word
    reg [VW-1:0]    mask;                        // code lanes of this word (l < n)
    reg             active, init, init2, ready, padstep;
    reg             is_sp2, is_f8, last_g, pen_g, last_w, last_row, g1, g2, s1;
    reg             nxt_sp2, nxt_f8;             // the kind of the row after this one
    reg             f8_2;                        // the row after that is fixed-8 (row2 >= f8_first)
    reg             pad_row;                     // this row has a pad nibble (odd K, 4-bit codes)
    reg [SW-1:0]    nl_cur, full_cur, need_row;  // this row's last-group and full word; the next row's first
    reg [15:0]      row, row1, row2, row3, lunit, dslot;
    reg [AW-1:0]    lbase, dbase, widx, sm2;
    reg [11:0]      gd, gm1;                     // groups left in this tap after this word; groups - 1
    reg [15:0]      rows_total, rtm1, f8_first;

    wire odd_k     = taps[0] & chans[0];
    wire work      = active && !done;
    wire take_word = work && !slack[FW];
    wire adv       = !padstep && !last_w;                         // after this word: the row's next one
    wire topad     = !padstep && last_w && pad_row;               // ... its pad nibble
    wire rend      = !adv && !topad;                              // ... the next row
    wire step_adv  = take_word && adv;
    wire row_end   = take_word && rend;

    function [VW-1:0] mask_of(input lg);
        integer m;
        for (m = 0; m < VW; m = m + 1) mask_of[m] = !lg || (m < nlast);
    endfunction

    // the flags once this word is taken (registers only), at init, and next
    reg          a_sp2, a_f8, a_lg, a_pad;
    always @* begin
        a_sp2 = is_sp2; a_f8 = is_f8; a_lg = last_g; a_pad = padstep;
        if (adv) a_lg = last_g ? g1 : pen_g;
        else if (topad) a_pad = 1'b1;
        else begin a_pad = 1'b0; a_lg = g1; a_sp2 = nxt_sp2; a_f8 = nxt_f8; end
    end
    // need_a: the need of (a_pad, a_f8, a_lg) (1 for a pad nibble, else n codes, 2 n nibbles for
    // fixed-8), as a 4-way choice of registers
    wire [1:0]    na_sel = adv ? ((last_g ? g1 : pen_g) ? 2'd0 : 2'd1) : topad ? 2'd2 : 2'd3;
    wire [SW-1:0] need_a = na_sel == 2'd0 ? nl_cur : na_sel == 2'd1 ? full_cur : na_sel == 2'd2 ? 1 : need_row;
    function [SW-1:0] nl_of(input f8);
        nl_of = f8 ? {nlast[SW-2:0], 1'b0} : nlast;
    endfunction
    function [SW-1:0] full_of(input f8);
        full_of = f8 ? 2 * VW : VW;
    endfunction
    wire nf8_1 = row1 >= f8_first, nf8_2 = row2 >= f8_first;   // (at init)
    // the first word (at start, from the layer's inputs; groups = ceil(chans / VW))
    localparam integer WB = VW > 1 ? $clog2(VW) : 1;
    wire [SW-1:0] nlast0 = ((VW & (VW - 1)) == 0) ? ((chans[WB-1:0] == 0) ? VW : chans[WB-1:0])
                                                  : chans - (groups - 1) * VW;
    wire          f8_0   = (n_sp2 | n_f4) == 0;
    wire [SW-1:0] n_0    = (groups == 1) ? nlast0 : VW;
    wire [SW-1:0] need_0 = f8_0 ? {n_0[SW-2:0], 1'b0} : n_0;
    reg  [VW-1:0] mask_0;
    integer m0;
    always @* for (m0 = 0; m0 < VW; m0 = m0 + 1) mask_0[m0] = (groups != 1) || (m0 < nlast0);

    // TKEEP marks contiguous low lanes; lanes past it enter as zero
    integer b;
    wire [4:0] nbytes = {1'b0, in_nbytes};
    reg [63:0] inm;
    always @* for (b = 0; b < 8; b = b + 1) inm[8*b +: 8] = in_keep[b] ? in_data[8*b +: 8] : 8'd0;
    assign in_ready = ready;
    wire take_beat = in_valid && ready;

    // the word: n codes (4-bit rows) or n bytes split into nibbles (fixed-8), zero past n
    reg [4*VW-1:0] lo_w, hi_w;
    reg            code_bad;
    integer l;
    always @* begin
        lo_w = 0; hi_w = 0; code_bad = 1'b0;
        for (l = 0; l < VW; l = l + 1) begin
            if (mask[l]) begin
                if (is_f8) begin
                    lo_w[4*l +: 4] = nb[8*l +: 4];
                    hi_w[4*l +: 4] = nb[8*l + 4 +: 4];
                    if (nb[8*l +: 8] == 8'h80) code_bad = 1'b1;
                end else begin
                    lo_w[4*l +: 4] = nb[4*l +: 4];
                    if (!is_sp2 && nb[4*l +: 4] == 4'b1000) code_bad = 1'b1;
                end
            end
        end
        if (padstep) code_bad = nb[3:0] != 4'd0;
    end

    wire [FW-1:0]    fw   = take_word ? slack[FW-1:0] : fill;       // held after this word
    // The pending beat's nibbles (`p_gb`) join fill and slack: the next slack is slack + p_gb -
    // the next need when a word is taken. The next need is one of four registers (na_sel), and
    // for each, p_gb - that register is itself registered (`pc`, from the next values of p_gb and
    // of the register), so each slack candidate is a two-operand sum of registers; a one-hot
    // choice by registers (start, take_word, na_sel) takes one of them, the beat-only sum or
    // start's. (With three operands the synthesis left a LUT level too many before the carry.)
    localparam integer SL = FW + 1;
    wire [SL-1:0] p_gb_d = (take_beat && !start) ? {nbytes, 1'b0} : {SL{1'b0}};
    reg  [SL-1:0] p_gb;
    always @(posedge clk) p_gb <= p_gb_d;
    // start's values, registered from the held geometry (as slack_0: it is set before start)
    reg  [SW-1:0] nl_0, full_0;
    always @(posedge clk) begin nl_0 <= f8_0 ? {nlast0[SW-2:0], 1'b0} : nlast0; full_0 <= full_of(f8_0); end
    // each candidate's three possible next values: held (0), start's (1), the row's end's (2;
    // need_row's also at init2, from row 1's kind); the choice comes after the carry chains
    wire [SW-1:0] c_now [0:3], c_st [0:3], c_re [0:3];
    wire          nr_f8 = init2 ? nxt_f8 : f8_2;
    assign c_now[0] = nl_cur;   assign c_st[0] = nl_0;     assign c_re[0] = nl_of(nxt_f8);
    assign c_now[1] = full_cur; assign c_st[1] = full_0;   assign c_re[1] = full_of(nxt_f8);
    assign c_now[2] = 1;        assign c_st[2] = 1;        assign c_re[2] = 1;
    assign c_now[3] = need_row; assign c_st[3] = need_row; assign c_re[3] = g1 ? nl_of(nr_f8) : full_of(nr_f8);
    wire [1:0]    sel_c  = (rst || (!start && !row_end)) ? 2'd0 : start ? 2'd1 : 2'd2;   // nl_cur, full_cur
    wire [1:0]    sel_nr = (rst || start || !active || !(row_end || init2)) ? 2'd0 : 2'd2;
    function [SW-1:0] pick(input [1:0] sel, input [SW-1:0] held, input [SW-1:0] at_start, input [SW-1:0] at_end);
        pick = sel == 2'd0 ? held : sel == 2'd1 ? at_start : at_end;
    endfunction
    always @(posedge clk) begin
        nl_cur <= pick(sel_c, c_now[0], c_st[0], c_re[0]);
        full_cur <= pick(sel_c, c_now[1], c_st[1], c_re[1]);
        need_row <= pick(sel_nr, c_now[3], c_st[3], c_re[3]);
    end
    wire [SL-1:0] s_w [0:3];
    genvar gk;
    generate
        for (gk = 0; gk < 4; gk = gk + 1) begin : sub
            reg  [SL-1:0] pc;                           // p_gb - candidate gk's need
            wire [SL-1:0] d_now = p_gb_d - {1'b0, c_now[gk]}, d_st = p_gb_d - {1'b0, c_st[gk]};
            wire [SL-1:0] d_re = p_gb_d - {1'b0, c_re[gk]};
            // an AND-OR by kept one-hot flags (after a mux, the synthesis shares one subtractor
            // behind a mux of the candidates, and the choice runs through the carry chain)
            wire [1:0] csel = gk == 3 ? sel_nr : gk == 2 ? 2'd0 : sel_c;
            (* keep *) wire k_now = csel == 2'd0, k_st = csel == 2'd1, k_re = csel == 2'd2;
            always @(posedge clk) pc <= ({SL{k_now}} & d_now) | ({SL{k_st}} & d_st) | ({SL{k_re}} & d_re);
            assign s_w[gk] = slack + pc;
        end
    endgenerate
    wire [SL-1:0] s_none = slack + p_gb;
    // one-hot choices, kept apart from the sums (else the synthesis folds them into the adders'
    // inputs): an AND-OR of six terms, two LUT levels after the carry chains
    (* keep *) wire sel_st = start, sel_n = !start && !take_word;
    (* keep *) wire [3:0] sel_w = {4{!start && take_word}} & (4'd1 << na_sel);
    reg  [SW-1:0] need_0r;                       // start's: -need_0, from the held geometry in
    reg  [SL-1:0] slack_0;                       // two stages (the engine holds it through its checks)
    always @(posedge clk) begin need_0r <= need_0; slack_0 <= -{1'b0, need_0r}; end
    wire [SL-1:0] slack_d = ({SL{sel_st}} & slack_0) | ({SL{sel_n}} & s_none)
        | ({SL{sel_w[0]}} & s_w[0]) | ({SL{sel_w[1]}} & s_w[1]) | ({SL{sel_w[2]}} & s_w[2]) | ({SL{sel_w[3]}} & s_w[3]);
    always @(posedge clk) slack <= slack_d;    // (held while idle: no word, no beat)
    wire [4*CAP-1:0] kept = take_word ? nb >> (4 * need) : nb;
    wire [4*CAP-1:0] ins  = {{(4*CAP-64){1'b0}}, pend} << (4 * fw[SW-1:0]);
    wire [FW-1:0]    fill_next = fw + p_gb[FW-1:0];
    // a fixed-8 row starts on an even slot (an aligned DSP pair); DSP_ROWS is even
    wire [1:0]  dinc = (is_f8 ? 2'd2 : 2'd1) + (nxt_f8 & (dslot[0] ^ !is_f8));
    wire [15:0] dslot_aligned = dslot + dinc;
    wire        dwrap = (dinc == 2'd1 && dslot == DSP_ROWS - 1) || (dinc == 2'd2 && dslot == DSP_ROWS - 2)
                     || (dinc == 2'd3 && dslot == DSP_ROWS - 3);

    always @(posedge clk) begin
        wr_en <= 1'b0;
        if (rst) begin
            active <= 1'b0; done <= 1'b0; bad <= 1'b0; fill <= 0; nb <= 0; ready <= 1'b0; init <= 1'b0; init2 <= 1'b0;
        end else if (start) begin
            active <= 1'b1; init <= 1'b1; init2 <= 1'b0; bad <= 1'b0; bad_row <= 0;
            done <= (n_sp2 | n_f4 | n_f8) == 0; ready <= (n_sp2 | n_f4 | n_f8) != 0;
            fill <= 0; nb <= 0; pend <= 0; padstep <= 1'b0; need <= need_0; mask <= mask_0;
            is_sp2 <= n_sp2 != 0; is_f8 <= f8_0; last_g <= groups == 1; pen_g <= groups == 2; gd <= groups - 1;
            last_w <= steps == 1; pad_row <= taps[0] & chans[0] & !f8_0;
            row <= 0; row1 <= 1; row2 <= 2; row3 <= 3; lunit <= 0; dslot <= 0; lbase <= 0; dbase <= 0; widx <= 0;
            nlast <= nlast0;
            g1 <= groups == 1; g2 <= groups == 2; gm1 <= groups - 1; s1 <= steps == 1; sm2 <= steps - 2;
            rows_total <= n_sp2 + n_f4 + n_f8;
            f8_first <= n_sp2 + n_f4;
        end else if (active) begin
            init  <= 1'b0; init2 <= init;
            nb    <= kept | ins;
            pend  <= take_beat ? inm : 64'd0;
            fill  <= fill_next;
            ready <= !done && !(row_end && last_row) && fw <= CAP - 48;
            if (init) begin
                last_row <= rows_total == 1; rtm1 <= rows_total - 1;
                nxt_sp2 <= row1 < n_sp2; nxt_f8 <= nf8_1; f8_2 <= nf8_2;
            end
            if (take_word) begin
                need <= need_a; mask <= mask_of(a_lg);
                is_sp2 <= a_sp2; is_f8 <= a_f8; last_g <= a_lg; padstep <= a_pad;
                if (code_bad && !bad) begin bad <= 1'b1; bad_row <= row; end
                if (!padstep) begin
                    wr_en <= 1'b1; wr_lo <= lo_w; wr_hi <= hi_w; wr_pair <= is_f8;
                    wr_unit <= is_sp2 ? lunit : LUT_ROWS + dslot;
                    wr_addr <= (is_sp2 ? lbase : dbase) + widx;
                end
            end
            if (step_adv) begin
                widx <= widx + 1; last_w <= widx == sm2;
                if (last_g) begin gd <= gm1; pen_g <= g2; end
                else begin gd <= gd - 1; pen_g <= gd == 2; end
            end
            if (row_end) begin                          // the row is complete: place the next one
                widx <= 0; gd <= gm1; pen_g <= g2; last_w <= s1;
                row <= row1; row1 <= row2; row2 <= row3; row3 <= row3 + 1;
                nxt_sp2 <= row2 < n_sp2; nxt_f8 <= f8_2; f8_2 <= row3 >= f8_first;
                pad_row <= odd_k & !nxt_f8;
                last_row <= row1 == rtm1;
                if (last_row) done <= 1'b1;
                if (is_sp2) begin
                    if (lunit == LUT_ROWS - 1) begin lunit <= 0; lbase <= lbase + steps; end
                    else lunit <= lunit + 1;
                end else if (dwrap) begin
                    dslot <= 0; dbase <= dbase + steps;
                end else dslot <= dslot_aligned;
            end
        end
    end
endmodule
`default_nettype wire
