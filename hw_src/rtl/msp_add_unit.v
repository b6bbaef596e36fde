// msp_add_unit: the residual add (docs/numerics.md 7.3), four bytes per cycle:
//   y = clamp((a * MULT_A + b * MULT_B + R) >> SHIFT, OUT),  R = 2^(SHIFT-1) (0 for SHIFT 0).
// Input b streams in beat by beat; input a waits in the activation buffer, dense (byte i of the
// packet at word i / VW, lane i % VW), so each beat of b meets an aligned 8-byte run of a. A beat
// takes two cycles (four lanes, eight DSP multipliers in all: the DSP budget goes to the array).
//
// Pipeline (one half beat, four bytes, per cycle; issue = the cycle a half beat leaves stage 0):
//   in: the beat of b as taken, and its byte count (in_ready comes from registers only)
//   0 issue: the beat waits here; its read of a was issued as it came in from the input register
//            (rd_q is valid from the next cycle on and holds until the next beat's read)
//   1 rd_q registered as read (the buffer's output register), b's half selected
//   2 a's four bytes selected, both inputs sign-extended to 9 bits
//   3 products a * MULT_A, b * MULT_B (DSP, M register)
//   4 their sum (|sum| < 2^25: 26 bits)
//   5 + R (27 bits); a shift above 25 gives 0 whatever the sum (R > |sum|), forced here
//   6 arithmetic shift by SHIFT[4:3] * 8, 7 by SHIFT[2:0]
//   then the clamp, into the output FIFO (16 entries behind the out_* register).
// The pipeline never stalls: a half beat is issued only while the FIFO has room for everything in
// flight (issued and not yet taken from out_*), so out_ready reaches only the FIFO's read side.
// Latency: eight cycles more than before pipelining (the input register, seven stages).
`default_nettype none
module msp_add_unit #(
    parameter integer VW = 16,
    parameter integer AW = 13
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              start,            // one cycle: a new layer
    input  wire [15:0]       mult_a, mult_b,
    input  wire [5:0]        shift,
    input  wire              a_signed, b_signed, out_signed,
    input  wire [3:0]        out_bits,
    // input b beats
    input  wire              in_valid,
    input  wire [63:0]       in_data,
    input  wire [7:0]        in_keep,
    output wire              in_ready,
    // activation buffer read port (registered: q follows rd_addr one enabled cycle later)
    output wire              rd_en,
    output wire [AW-1:0]     rd_addr,
    input  wire [8*VW-1:0]   rd_q,
    // output bytes
    output reg               out_valid,
    output reg  [63:0]       out_data,
    output reg  [3:0]        out_nbytes,
    input  wire              out_ready
);
    localparam integer LB = $clog2(VW / 8);      // 8-byte lanes per buffer word
    localparam integer FD = 16;                  // FIFO entries behind out_*
    localparam integer CREDITS = FD + 1;         // half beats in flight, FIFO and out_* included

    // ---------------- the layer's parameters, registered (they hold through a layer) ----------------
    reg [15:0] ma_r, mb_r;
    reg        as_r, bs_r;
    reg        big_r;                            // SHIFT > 25: every result is 0
    reg [4:0]  sh_r;
    reg signed [26:0] half_r;                    // R (SHIFT <= 25)
    reg signed [16:0] lo_r, hi_r;
    always @(posedge clk) begin
        ma_r <= mult_a; mb_r <= mult_b; as_r <= a_signed; bs_r <= b_signed;
        big_r <= shift > 6'd25;
        sh_r <= shift[4:0];
        half_r <= (shift == 6'd0 || shift > 6'd25) ? 27'sd0 : (27'sd1 <<< (shift[4:0] - 5'd1));
        lo_r <= out_signed ? -17'sd128 : 17'sd0;
        hi_r <= out_signed ? 17'sd127 : ((17'sd1 <<< out_bits) - 17'sd1);
    end

    // ---------------- the input register: a beat of b and its byte count ----------------
    integer k;
    reg [3:0] kbytes;
    always @* begin
        kbytes = 0;
        for (k = 0; k < 8; k = k + 1) kbytes = kbytes + {3'd0, in_keep[k]};
    end
    reg        iv;
    reg [63:0] idata;
    reg [3:0]  ikb;
    wire       to0;                              // the input register's beat moves to stage 0
    assign in_ready = !iv || to0;
    always @(posedge clk) begin
        if (rst || start) iv <= 1'b0;
        else if (in_ready) iv <= in_valid;
        if (in_ready) begin idata <= in_data; ikb <= kbytes; end
    end

    // ---------------- stage 0: the beat of b, issued half by half ----------------
    // the byte offset of the beat, as the word (rd_addr) and the byte in the word; the word's
    // successor waits in a register (a beat's byte count carries into the word at most once)
    reg [AW-1:0]   bword, bword1;                // bword1 = bword + 1
    reg [LB+2:0]   bbyte;
    reg        v1, h1;                           // a beat waits; its second half is next
    reg [63:0] b1;
    reg [3:0]  n1;
    reg [LB:0] lane1;
    reg [4:0]  inflight;                         // issued half beats not yet taken from out_*
    // room (inflight < CREDITS) is a register kept with inflight; the next count and room are
    // picked by iss and pop after the arithmetic (out_ready comes from the packer's handshake, late)
    reg  room;
    localparam [4:0] CRED5 = CREDITS[4:0];
    wire iss = v1 && room;
    wire last_half = h1 || n1 <= 4'd4;
    assign to0 = iv && (!v1 || (room && last_half));
    assign rd_en = to0;
    assign rd_addr = bword;
    wire [LB+3:0] bsum = bbyte + ikb;            // < 2 * VW

    wire pop = out_valid && out_ready;
    // the next count and room from registers and constants only: iss and pop pick (one LUT each)
    (* keep *) wire [4:0] inf_up = inflight + 5'd1, inf_dn = inflight - 5'd1;
    wire lt_m1 = inflight < CRED5 - 5'd1, lt_0 = inflight < CRED5, lt_p1 = inflight <= CRED5;
    always @(posedge clk) begin
        if (rst || start) begin
            bword <= 0; bword1 <= 1; bbyte <= 0; v1 <= 1'b0; h1 <= 1'b0; inflight <= 0; room <= 1'b1;
        end else begin
            inflight <= (iss == pop) ? inflight : iss ? inf_up : inf_dn;
            room <= (iss == pop) ? lt_0 : iss ? lt_m1 : lt_p1;
            if (iss && !last_half) h1 <= 1'b1;
            else if (!v1 || iss) begin
                v1 <= to0; h1 <= 1'b0;
                if (to0) begin
                    b1 <= idata; n1 <= ikb; lane1 <= {1'b0, bbyte[LB+2:3]}; bbyte <= bsum[LB+2:0];
                    if (bsum[LB+3]) begin bword <= bword1; bword1 <= bword1 + 1'b1; end
                end
            end
        end
    end

    // ---------------- stages 1..7 ----------------
    reg [7:1] pv;                                // a half beat in stage i
    reg [3:0] pn [1:7];                          // its byte count
    reg [8*VW-1:0] aq;                           // stage 1: the buffer word
    reg [LB+1:0]   asel1;                        // stage 1: {lane, half}
    reg [31:0]     bq1;
    always @(posedge clk) begin
        if (rst || start) pv <= 0;
        else pv <= {pv[6:1], iss};
        aq <= rd_q; asel1 <= {lane1, h1};
        bq1 <= h1 ? b1[63:32] : b1[31:0];
        pn[1] <= h1 ? n1 - 4'd4 : (n1 > 4'd4 ? 4'd4 : n1);
        pn[2] <= pn[1]; pn[3] <= pn[2]; pn[4] <= pn[3]; pn[5] <= pn[4]; pn[6] <= pn[5]; pn[7] <= pn[6];
    end
    wire [31:0] a4 = aq >> (32 * asel1);

    wire [31:0] y;
    genvar l;
    generate
        for (l = 0; l < 4; l = l + 1) begin : lane
            reg signed [8:0]  av2, bv2;
            reg signed [25:0] pa3, pb3;
            reg signed [25:0] s4;
            reg signed [26:0] t5, u6, w7;
            always @(posedge clk) begin
                av2 <= {as_r & a4[8*l + 7], a4[8*l +: 8]};
                bv2 <= {bs_r & bq1[8*l + 7], bq1[8*l +: 8]};
                pa3 <= av2 * $signed({1'b0, ma_r});
                pb3 <= bv2 * $signed({1'b0, mb_r});
                s4 <= pa3 + pb3;
                t5 <= big_r ? 27'sd0 : s4 + half_r;
                u6 <= t5 >>> {sh_r[4:3], 3'b000};
                w7 <= u6 >>> sh_r[2:0];
            end
            assign y[8*l +: 8] = (w7 < lo_r) ? lo_r[7:0] : (w7 > hi_r) ? hi_r[7:0] : w7[7:0];
        end
    endgenerate

    // ---------------- output FIFO, out_* its head ----------------
    reg [35:0] fmem [0:FD-1];
    reg [4:0]  fwp, frp;
    wire fempty = fwp == frp;
    wire head_free = !out_valid || out_ready;
    wire bypass = head_free && fempty;           // stage 7's result goes straight to out_*
    always @(posedge clk) begin
        if (pv[7] && !bypass) fmem[fwp[3:0]] <= {pn[7], y};
        if (rst || start) begin
            fwp <= 0; frp <= 0; out_valid <= 1'b0;
        end else begin
            if (pv[7] && !bypass) fwp <= fwp + 1'b1;
            if (head_free) begin
                if (!fempty) begin
                    out_valid <= 1'b1; out_data <= {32'd0, fmem[frp[3:0]][31:0]};
                    out_nbytes <= fmem[frp[3:0]][35:32]; frp <= frp + 1'b1;
                end else begin
                    out_valid <= pv[7];
                    if (pv[7]) begin out_data <= {32'd0, y}; out_nbytes <= pn[7]; end
                end
            end
        end
    end
endmodule
`default_nettype wire
