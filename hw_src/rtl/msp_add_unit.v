// msp_add_unit: the residual add (docs/numerics.md 7.3), eight bytes per cycle:
//   y = clamp((a * MULT_A + b * MULT_B + R) >> SHIFT, OUT),  R = 2^(SHIFT-1) (0 for SHIFT 0).
// Input b streams in beat by beat; input a waits in the activation buffer, dense (byte i of the
// packet at word i / VW, lane i % VW), so each beat of b meets an aligned 8-byte run of a.
// Two stages (buffer read, then arithmetic) move together when the output can take a beat.
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
    // activation buffer read port (registered: q follows rd_addr by one enabled cycle)
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
    reg        v1;
    reg [63:0] b1;
    reg [3:0]  n1;
    reg [LB:0] lane1;
    wire adv = !out_valid || out_ready;
    assign in_ready = adv;
    wire take = in_valid && adv;
    assign rd_en = adv;
    assign rd_addr = boff / VW;

    integer k;
    reg [3:0] kbytes;
    always @* begin
        kbytes = 0;
        for (k = 0; k < 8; k = k + 1) kbytes = kbytes + in_keep[k];
    end

    wire [63:0] a1 = rd_q >> (64 * lane1);
    wire signed [48:0] half = (shift == 6'd0) ? 49'sd0 : (49'sd1 <<< (shift - 6'd1));
    wire signed [48:0] lo = out_signed ? -49'sd128 : 49'sd0;
    wire signed [48:0] hi = out_signed ? 49'sd127 : ((49'sd1 <<< out_bits) - 49'sd1);
    reg  [63:0] y;
    integer l;
    reg signed [8:0]  av, bv;
    reg signed [48:0] s;
    always @* begin
        for (l = 0; l < 8; l = l + 1) begin
            av = a_signed ? {a1[8*l + 7], a1[8*l +: 8]} : {1'b0, a1[8*l +: 8]};
            bv = b_signed ? {b1[8*l + 7], b1[8*l +: 8]} : {1'b0, b1[8*l +: 8]};
            s = (av * $signed({1'b0, mult_a}) + bv * $signed({1'b0, mult_b}) + half) >>> shift;
            y[8*l +: 8] = (s < lo) ? lo[7:0] : (s > hi) ? hi[7:0] : s[7:0];
        end
    end

    always @(posedge clk) begin
        if (rst || start) begin
            boff <= 0; v1 <= 1'b0; out_valid <= 1'b0;
        end else if (adv) begin
            v1 <= take;
            if (take) begin
                b1 <= in_data; n1 <= kbytes; lane1 <= (boff % VW) / 8; boff <= boff + kbytes;
            end
            out_valid <= v1;
            if (v1) begin out_data <= y; out_nbytes <= n1; end
        end
    end
endmodule
`default_nettype wire
