// msp_add_unit: the residual add (docs/numerics.md 7.3), four bytes per cycle:
//   y = clamp((a * MULT_A + b * MULT_B + R) >> SHIFT, OUT),  R = 2^(SHIFT-1) (0 for SHIFT 0).
// Input b streams in beat by beat; input a waits in the activation buffer, dense (byte i of the
// packet at word i / VW, lane i % VW), so each beat of b meets an aligned 8-byte run of a. A beat
// takes two cycles (four lanes, eight DSP multipliers in all: the DSP budget goes to the array).
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
    reg [31:0] boff;                             // byte offset of the next beat of b
    reg        v1, h1;                           // a beat waits; its second half is next
    reg [63:0] b1;
    reg [3:0]  n1;
    reg [LB:0] lane1;
    wire adv = !out_valid || out_ready;
    wire last_half = h1 || n1 <= 4'd4;
    assign in_ready = adv && (!v1 || last_half);
    wire take = in_valid && in_ready;
    assign rd_en = take;
    assign rd_addr = boff / VW;

    integer k;
    reg [3:0] kbytes;
    always @* begin
        kbytes = 0;
        for (k = 0; k < 8; k = k + 1) kbytes = kbytes + in_keep[k];
    end

    wire [63:0] a_run = rd_q >> (64 * lane1);
    wire [31:0] a4 = h1 ? a_run[63:32] : a_run[31:0];
    wire [31:0] b4 = h1 ? b1[63:32] : b1[31:0];
    wire signed [48:0] half = (shift == 6'd0) ? 49'sd0 : (49'sd1 <<< (shift - 6'd1));
    wire signed [48:0] lo = out_signed ? -49'sd128 : 49'sd0;
    wire signed [48:0] hi = out_signed ? 49'sd127 : ((49'sd1 <<< out_bits) - 49'sd1);
    reg  [31:0] y;
    integer l;
    reg signed [8:0]  av, bv;
    reg signed [48:0] s;
    always @* begin
        for (l = 0; l < 4; l = l + 1) begin
            av = a_signed ? {a4[8*l + 7], a4[8*l +: 8]} : {1'b0, a4[8*l +: 8]};
            bv = b_signed ? {b4[8*l + 7], b4[8*l +: 8]} : {1'b0, b4[8*l +: 8]};
            s = (av * $signed({1'b0, mult_a}) + bv * $signed({1'b0, mult_b}) + half) >>> shift;
            y[8*l +: 8] = (s < lo) ? lo[7:0] : (s > hi) ? hi[7:0] : s[7:0];
        end
    end

    always @(posedge clk) begin
        if (rst || start) begin
            boff <= 0; v1 <= 1'b0; h1 <= 1'b0; out_valid <= 1'b0;
        end else if (adv) begin
            out_valid <= v1;
            if (v1) begin
                out_data <= {32'd0, y};
                out_nbytes <= h1 ? n1 - 4'd4 : (n1 > 4'd4 ? 4'd4 : n1);
            end
            if (v1 && !last_half) h1 <= 1'b1;
            else begin
                v1 <= take; h1 <= 1'b0;
                if (take) begin
                    b1 <= in_data; n1 <= kbytes; lane1 <= (boff % VW) / 8; boff <= boff + kbytes;
                end
            end
        end
    end
endmodule
`default_nettype wire
