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
    input  wire              start,              // one cycle: a new layer (latch the geometry)
    input  wire [15:0]       taps,               // kh * kw (1 for linear)
    input  wire [15:0]       chans,              // IN_C (linear: K)
    input  wire [11:0]       groups,             // ceil(chans / VW)
    input  wire [AW-1:0]     steps,              // taps * groups: bank words per row
    input  wire [15:0]       n_sp2, n_f4, n_f8,
    // weight packet bytes, one beat at a time
    input  wire              in_valid,
    input  wire [63:0]       in_data,
    input  wire [7:0]        in_keep,
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
    localparam integer CAP = 2 * VW + 16;        // nibbles held: a fixed-8 word and one beat
    reg [4*CAP-1:0] nb;
    reg [7:0]       fill;
    reg             active, padstep;
    reg [15:0]      row, lunit, dslot, nlast;
    reg [AW-1:0]    lbase, dbase, widx;
    reg [11:0]      g;
    reg [15:0]      rows_total, f8_first;

    wire is_sp2 = row < n_sp2;
    wire is_f8  = row >= f8_first;
    wire odd_k  = taps[0] & chans[0];
    wire [15:0] n = (g == groups - 1) ? nlast : VW;          // codes in this word
    wire [7:0]  need = padstep ? 8'd1 : (is_f8 ? {n[6:0], 1'b0} : n[7:0]);
    wire        work = active && !done;
    wire        take_word = work && fill >= need;
    wire [7:0]  cons = take_word ? need : 8'd0;

    // beat bytes by TKEEP (contiguous low lanes)
    integer b;
    reg [4:0] nbytes;
    always @* begin
        nbytes = 0;
        for (b = 0; b < 8; b = b + 1) nbytes = nbytes + in_keep[b];
    end
    assign in_ready = work && (fill - cons + 8'd16 <= CAP);
    wire take_beat = in_valid && in_ready;

    // the word: n codes (4-bit rows) or n bytes split into nibbles (fixed-8), zero past n
    reg [4*VW-1:0] lo_w, hi_w;
    reg            code_bad;
    integer l;
    always @* begin
        lo_w = 0; hi_w = 0; code_bad = 1'b0;
        for (l = 0; l < VW; l = l + 1) begin
            if (l < n) begin
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

    wire [4*CAP-1:0] incoming = {{(4*CAP-64){1'b0}}, in_data & ~(64'hFFFFFFFFFFFFFFFF << (8 * nbytes))};
    wire [15:0] dslot_next = dslot + (is_f8 ? 16'd2 : 16'd1);
    // a fixed-8 row starts on an even slot (an aligned DSP pair); DSP_ROWS is even
    wire [15:0] dslot_aligned = dslot_next + ((row + 1 >= f8_first) & dslot_next[0]);

    always @(posedge clk) begin
        wr_en <= 1'b0;
        if (rst) begin
            active <= 1'b0; done <= 1'b0; bad <= 1'b0; fill <= 0; nb <= 0;
        end else if (start) begin
            active <= 1'b1; done <= (n_sp2 + n_f4 + n_f8) == 0; bad <= 1'b0; bad_row <= 0;
            fill <= 0; nb <= 0; padstep <= 1'b0;
            row <= 0; lunit <= 0; dslot <= 0; lbase <= 0; dbase <= 0; widx <= 0; g <= 0;
            nlast <= chans - (groups - 1) * VW;
            rows_total <= n_sp2 + n_f4 + n_f8;
            f8_first <= n_sp2 + n_f4;
        end else if (active) begin
            nb   <= (nb >> (4 * cons)) | (take_beat ? incoming << (4 * (fill - cons)) : {4*CAP{1'b0}});
            fill <= fill - cons + (take_beat ? {2'b0, nbytes, 1'b0} : 8'd0);
            if (take_word) begin
                if (code_bad && !bad) begin bad <= 1'b1; bad_row <= row; end
                if (!padstep) begin
                    wr_en <= 1'b1; wr_lo <= lo_w; wr_hi <= hi_w; wr_pair <= is_f8;
                    wr_unit <= is_sp2 ? lunit : LUT_ROWS + dslot;
                    wr_addr <= (is_sp2 ? lbase : dbase) + widx;
                end
                if (!padstep && widx != steps - 1) begin
                    widx <= widx + 1;
                    g <= (g == groups - 1) ? 12'd0 : g + 1;
                end else if (!padstep && odd_k && !is_f8) begin
                    padstep <= 1'b1;                    // the row's pad nibble comes next
                end else begin                          // the row is complete: place the next one
                    padstep <= 1'b0; widx <= 0; g <= 0;
                    row <= row + 1;
                    if (row + 1 == rows_total) done <= 1'b1;
                    if (is_sp2) begin
                        if (lunit == LUT_ROWS - 1) begin lunit <= 0; lbase <= lbase + steps; end
                        else lunit <= lunit + 1;
                    end else if (dslot_aligned == DSP_ROWS) begin
                        dslot <= 0; dbase <= dbase + steps;
                    end else dslot <= dslot_aligned;
                end
            end
        end
    end
endmodule
`default_nettype wire
