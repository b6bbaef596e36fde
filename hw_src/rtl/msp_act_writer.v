// msp_act_writer: writes an input packet's bytes (NHWC) into the activation buffer, whose words
// are VW bytes: each pixel of `pix_bytes` channels starts a new word and takes `groups` words
// (docs/design/engine.md), so the window former finds channel group g of pixel (y, x) at word
// (y * IN_W + x) * groups + g. Add's input a is written with pix_bytes = VW (dense bytes).
// A beat is written in pieces that end at a pixel, word or image boundary, so a pixel of
// 3 channels costs a cycle per pixel. After `img_bytes` bytes the writer pauses (`img_done`)
// until `resume`: the buffer holds one image while the engine computes it.
// Checks (BAD_DATA, msp_range_check): a byte above the unsigned input type's maximum (u4: 15,
// u5: 31); `bad_index` is its index in the packet.
//
// Timing (docs/design/engine.md, "Receive side"): `in_ready` is a register (a second beat
// register takes a beat while the first is being written), and a piece is the AND of four
// 8-bit thermometer codes (bytes left in the beat, in the word, in the pixel, in the image), so
// no 32-bit compare or subtract lies between a beat and the next piece. The pixel and image
// counts are kept as hi * 16 + lo with lo in [8, 31] while hi > 0: a piece (at most 8 bytes)
// only ever changes lo, and hi lends 16 to lo a cycle ahead, on its own carry chain.
`default_nettype none
module msp_act_writer #(
    parameter integer VW = 16,
    parameter integer AW = 13                    // buffer word address bits
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              start,              // one cycle: a new packet (geometry set a cycle before)
    input  wire [31:0]       pix_bytes,          // bytes per pixel (IN_C; linear: K; add: VW)
    input  wire [31:0]       img_bytes,          // bytes per image
    input  wire [7:0]        max_byte,           // the input type's largest byte (255: no check)
    input  wire              resume,             // one cycle: the buffer is free for the next image
    input  wire              in_valid,
    input  wire [63:0]       in_data,
    input  wire [7:0]        in_keep,            // (for the range check's lanes)
    input  wire [3:0]        in_nbytes,          // TKEEP's ones, counted a cycle ahead (the beat FIFO)
    output wire              in_ready,
    output reg               wr_en,
    output reg  [AW-1:0]     wr_addr,
    output reg  [8*VW-1:0]   wr_data,
    output reg  [VW-1:0]     wr_be,
    output reg               img_done,           // level: an image is complete (until resume)
    output wire              bad,
    output wire [31:0]       bad_index
);
    localparam integer WB = $clog2(VW);

    // ---- beats: the one being written (cur) and one waiting (nxt) ----
    reg        have, n_have;
    reg [63:0] beat, n_beat;
    reg [7:0]  t_beat, n_tb;                     // bytes of the beat left to write (thermometers)
    reg [2:0]  lo;                               // bytes of the beat written
    assign in_ready = !n_have;
    wire take = in_valid && !n_have;
    integer k, q, j;
    wire [3:0] kbytes = in_nbytes;

    // ---- position: word offset, word address, pixel and image bytes left ----
    reg [WB-1:0] wo;
    reg [AW-1:0] waddr;
    reg [27:0]   p_hi, i_hi, pix_hi, img_hi;     // count = hi * 16 + lo (lo >= 8 while hi > 0)
    reg [4:0]    p_lo, i_lo, pix_lo, img_lo;
    reg          p_hnz, i_hnz, pix_hnz, img_hnz; // hi != 0
    reg [7:0]    pix_t, img_t;                   // a whole pixel's, a whole image's thermometer

    // Thermometer codes, t[k] = (bytes left > k) for k = 0..7, held in registers for the beat, the
    // word, the pixel and the image: a piece is their AND (one LUT a bit), and each code's next
    // value is its count's compare with k + piece, selected by the piece in one-hot.
    function [7:0] therm(input [31:0] v);
        for (k = 0; k < 8; k = k + 1) therm[k] = v > k;
    endfunction
    reg  [7:0] t_word, t_pix, t_img;
    wire [7:0] tp = t_beat & t_word & t_pix & t_img;
    // the piece's size mod 8 (the beat's byte offset advances by it; 8 bytes end the beat)
    wire [2:0] piece = {tp[3] & !tp[7], (tp[1] & !tp[3]) | (tp[5] & !tp[7]),
                        (tp[0] & !tp[1]) | (tp[2] & !tp[3]) | (tp[4] & !tp[5]) | (tp[6] & !tp[7])};
    // a count ends with this piece when it is at most 8 and no other count is smaller
    function covers(input [7:0] t, input [7:0] others);
        covers = (t & ~others) == 8'd0;
    endfunction
    // a 3-bit sum as gates: an adder's carry chain after the piece missed the ZCU104's clock
    function [2:0] add3(input [2:0] a, input [2:0] b);
        add3 = {a[2] ^ b[2] ^ ((a[1] & b[1]) | ((a[1] ^ b[1]) & a[0] & b[0])), a[1] ^ b[1] ^ (a[0] & b[0]), a[0] ^ b[0]};
    endfunction
    // the word offset plus a constant as gates (as `minus`, below)
    function [WB-1:0] plus(input [WB-1:0] v, input [WB-1:0] c);
        reg b;
        integer u;
        begin
            b = 1'b0;
            for (u = 0; u < WB; u = u + 1) begin
                plus[u] = v[u] ^ c[u] ^ b;
                b = (v[u] && c[u]) || ((v[u] || c[u]) && b);
            end
        end
    endfunction
    // a 5-bit count minus a constant as gates: Yosys maps `-` to a carry chain, which after the
    // candidates' LUTs missed the ZCU104's clock; as gates each bit is one LUT of the count
    function [4:0] minus(input [4:0] v, input [4:0] c);
        reg b;
        integer u;
        begin
            b = 1'b0;
            for (u = 0; u < 5; u = u + 1) begin
                minus[u] = v[u] ^ c[u] ^ b;
                b = (!v[u] && (c[u] || b)) || (c[u] && b);
            end
        end
    endfunction
    wire go       = have && !img_done;           // (img_done: the buffer holds an image)
    wire beat_end = go && covers(t_beat, t_pix & t_img & t_word);
    wire pix_end  = go && !p_hnz && p_lo <= 5'd8 && covers(t_pix, t_beat & t_img & t_word);
    wire img_end  = go && !i_hnz && i_lo <= 5'd8 && covers(t_img, t_beat & t_pix & t_word);
    wire word_end = go && {1'b0, wo} >= VW - 8 && covers(t_word, t_beat & t_pix & t_img);
    reg  [8:0] used;                             // the bytes written this cycle, one-hot
    always @* for (q = 0; q <= 8; q = q + 1)
        used[q] = go ? (q == 0 || tp[q - 1]) && (q == 8 || !tp[q]) : q == 0;
    // each code after this cycle's piece (when its count is not reloaded)
    reg  [7:0] nt_beat;
    always @* for (k = 0; k < 8; k = k + 1) begin
        nt_beat[k] = 1'b0;
        for (q = 0; q <= 8; q = q + 1) if (used[q] && k + q < 8) nt_beat[k] = nt_beat[k] | t_beat[k + q];
    end

    wire [8*VW-1:0] shifted = {{(8*VW-64){1'b0}}, beat >> (8 * lo)} << (8 * wo);
    reg  [VW-1:0]   be;                          // bytes wo .. wo + piece - 1
    always @* for (j = 0; j < VW; j = j + 1) begin
        be[j] = 1'b0;
        for (k = 0; k < 8; k = k + 1) if (j >= k && wo == j - k && tp[k]) be[j] = 1'b1;
    end

    // hi lends 16 to lo when lo < 16: lo stays >= 8 before every piece while hi > 0
    wire p_lend = p_hnz && !p_lo[4];
    wire i_lend = i_hnz && !i_lo[4];
    // The pixel and image counts after this cycle's piece: one candidate per piece size, from
    // registers only (the count minus the size, or the next count where the size ends it), chosen
    // by `used` in one AND-OR, so neither an adder nor the end tests follow the piece.
    // Size q reloads the pixel's count when that count is q or the image's is (an image's end
    // starts a new pixel too); q = 0 reloads only just after start, when the counts are 0.
    reg [8:0] p_at, i_at;
    always @* for (q = 0; q <= 8; q = q + 1) begin
        p_at[q] = !p_hnz && p_lo == q;
        i_at[q] = !i_hnz && i_lo == q;
    end
    wire [8:0] p_rl = p_at | (i_at & 9'h1FE), i_rl = i_at;
    // the word offset and its code likewise: a size that ends the word, the pixel or the image
    // starts a new word (q = 0 keeps the offset)
    reg [8:0] w_rl;
    reg [WB-1:0] wo_n;
    reg [7:0] nt_word;
    always @* begin
        wo_n = {WB{1'b0}}; nt_word = 8'd0;
        for (q = 0; q <= 8; q = q + 1) begin
            w_rl[q] = q > 0 && ({1'b0, wo} == VW - q || p_at[q] || i_at[q]);
            if (used[q]) begin
                wo_n = wo_n | (w_rl[q] ? {WB{1'b0}} : plus(wo, q[WB-1:0]));
                for (k = 0; k < 8; k = k + 1)
                    nt_word[k] = nt_word[k] | w_rl[q] || (k + q < VW && wo < VW - k - q);
            end
        end
    end
    reg [4:0] p_lo_n, i_lo_n, qv;
    reg [7:0] nt_pix, nt_img;
    reg       p_load, i_load;                   // the count reloads (from pix_*, img_*)
    always @* begin
        p_lo_n = 5'd0; i_lo_n = 5'd0; nt_pix = 8'd0; nt_img = 8'd0; p_load = 1'b0; i_load = 1'b0;
        for (q = 0; q <= 8; q = q + 1) begin
            qv = q[4:0];
            if (used[q]) begin
                p_load = p_load | p_rl[q];
                i_load = i_load | i_rl[q];
                // (+ 16 mod 32 flips bit 4: an XOR, not a second adder)
                p_lo_n = p_lo_n | (p_rl[q] ? pix_lo : minus(p_lo, qv) ^ {p_lend, 4'd0});
                i_lo_n = i_lo_n | (i_rl[q] ? img_lo : minus(i_lo, qv) ^ {i_lend, 4'd0});
                for (k = 0; k < 8; k = k + 1) begin
                    nt_pix[k] = nt_pix[k] | (p_rl[q] ? pix_t[k] : p_hnz || p_lo > k + q);
                    nt_img[k] = nt_img[k] | (i_rl[q] ? img_t[k] : i_hnz || i_lo > k + q);
                end
            end
        end
    end

    // start's counts, registered from the held geometry in two stages (pix_bytes and img_bytes are
    // set two cycles before start): hi * 16 + lo with lo in [16, 31] when the count is 16 or more.
    // Stage 1: the counts and their wide zero tests; stage 2: the counts' forms.
    reg [31:0] pix_q, img_q;
    reg        pix_nz3, img_nz3, pix_nz4, img_nz4, pix_nz5, img_nz5;   // count[31:n] != 0
    always @(posedge clk) begin
        pix_q <= pix_bytes; img_q <= img_bytes;
        pix_nz3 <= pix_bytes[31:3] != 0; pix_nz4 <= pix_bytes[31:4] != 0; pix_nz5 <= pix_bytes[31:5] != 0;
        img_nz3 <= img_bytes[31:3] != 0; img_nz4 <= img_bytes[31:4] != 0; img_nz5 <= img_bytes[31:5] != 0;
    end
    reg [27:0] pix_hi_0, img_hi_0;
    reg [4:0]  pix_lo_0, img_lo_0;
    reg        pix_hnz_0, img_hnz_0;
    reg [7:0]  pix_t_0, img_t_0;
    always @(posedge clk) begin
        pix_hi_0 <= pix_q[31:4] - {27'd0, pix_nz4}; pix_lo_0 <= {pix_nz4, pix_q[3:0]};
        img_hi_0 <= img_q[31:4] - {27'd0, img_nz4}; img_lo_0 <= {img_nz4, img_q[3:0]};
        pix_hnz_0 <= pix_nz5; img_hnz_0 <= img_nz5;
        pix_t_0 <= {8{pix_nz3}} | therm({29'd0, pix_q[2:0]}); img_t_0 <= {8{img_nz3}} | therm({29'd0, img_q[2:0]});
    end

    always @(posedge clk) begin
        wr_en <= 1'b0;
        if (rst) begin
            have <= 1'b0; n_have <= 1'b0; img_done <= 1'b0;
        end else if (start) begin
            have <= 1'b0; n_have <= 1'b0; img_done <= 1'b0;
            pix_hi <= pix_hi_0; pix_lo <= pix_lo_0; pix_hnz <= pix_hnz_0; pix_t <= pix_t_0;
            img_hi <= img_hi_0; img_lo <= img_lo_0; img_hnz <= img_hnz_0; img_t <= img_t_0;
            // the first pixel and image start from these a cycle later (no beat arrives sooner)
            p_hi <= 0; i_hi <= 0; p_lo <= 0; i_lo <= 0; p_hnz <= 1'b0; i_hnz <= 1'b0;
            wo <= 0; waddr <= 0; t_word <= 8'hFF;
        end else begin
            if (resume) img_done <= 1'b0;
            if (go) begin
                wr_en <= 1'b1; wr_addr <= waddr; wr_data <= shifted; wr_be <= be;
                lo <= add3(lo, piece);
            end
            t_beat <= nt_beat;
            // position
            wo <= wo_n; t_word <= nt_word;
            if (img_end) begin img_done <= 1'b1; waddr <= 0; end
            else if (pix_end || word_end) waddr <= waddr + 1'b1;
            p_lo <= p_lo_n; t_pix <= nt_pix;
            if (p_load) begin p_hi <= pix_hi; p_hnz <= pix_hnz; end
            else if (p_lend) begin p_hi <= p_hi - 1'b1; p_hnz <= p_hi != 1; end
            i_lo <= i_lo_n; t_img <= nt_img;
            if (i_load) begin i_hi <= img_hi; i_hnz <= img_hnz; end
            else if (i_lend) begin i_hi <= i_hi - 1'b1; i_hnz <= i_hi != 1; end
            // beats (take is only while nxt is empty)
            if (!have || beat_end) begin
                have <= n_have || take; n_have <= 1'b0;
                if (n_have) begin beat <= n_beat; t_beat <= n_tb; lo <= 0; end
                else if (take) begin beat <= in_data; t_beat <= therm({28'd0, kbytes}); lo <= 0; end
            end else if (take) begin
                n_have <= 1'b1; n_beat <= in_data; n_tb <= therm({28'd0, kbytes});
            end
        end
    end

    msp_range_check check (.clk(clk), .clear(rst || start), .take(take), .data(in_data), .keep(in_keep), .nbytes(in_nbytes),
        .max_byte(max_byte), .bad(bad), .bad_index(bad_index));
endmodule
`default_nettype wire
