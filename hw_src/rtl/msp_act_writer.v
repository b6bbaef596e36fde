// msp_act_writer: writes an input packet's bytes (NHWC) into the activation buffer, whose words
// are VW bytes: each pixel of `pix_bytes` channels starts a new word and takes `groups` words
// (docs/design/engine.md), so the window former finds channel group g of pixel (y, x) at word
// (y * IN_W + x) * groups + g. Add's input a is written with pix_bytes = VW (dense bytes).
// A beat is written in pieces that end at a pixel, word or image boundary, so a pixel of
// 3 channels costs a cycle per pixel. After `img_bytes` bytes the writer pauses (`img_done`)
// until `resume`: the buffer holds one image while the engine computes it.
// Checks (BAD_DATA): a byte above the unsigned input type's maximum (u4: 15, u5: 31); `bad_index`
// is its index in the packet.
`default_nettype none
module msp_act_writer #(
    parameter integer VW = 16,
    parameter integer AW = 13                    // buffer word address bits
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              start,              // one cycle: a new packet (latch the geometry)
    input  wire [31:0]       pix_bytes,          // bytes per pixel (IN_C; linear: K; add: VW)
    input  wire [31:0]       img_bytes,          // bytes per image
    input  wire [7:0]        max_byte,           // the input type's largest byte (255: no check)
    input  wire              resume,             // one cycle: the buffer is free for the next image
    input  wire              in_valid,
    input  wire [63:0]       in_data,
    input  wire [7:0]        in_keep,
    output wire              in_ready,
    output reg               wr_en,
    output reg  [AW-1:0]     wr_addr,
    output reg  [8*VW-1:0]   wr_data,
    output reg  [VW-1:0]     wr_be,
    output reg               img_done,           // level: an image is complete (until resume)
    output reg               bad,
    output reg  [31:0]       bad_index
);
    localparam integer WB = $clog2(VW);
    reg        have;
    reg [63:0] beat;
    reg [3:0]  nb, lo;                           // bytes in the beat, bytes of it written
    reg [31:0] c, ib, pix, img, seen;
    reg [WB:0] wo;                               // byte offset in the current word
    reg [AW-1:0] waddr;

    function [31:0] min2(input [31:0] a, input [31:0] b);
        min2 = a < b ? a : b;
    endfunction
    wire [31:0] piece = min2(min2({28'd0, nb - lo}, VW - wo), min2(pix - c, img - ib));
    wire        go = have && !img_done;
    wire        beat_end = go && (lo + piece[3:0] == nb);
    assign in_ready = !have || beat_end;
    wire        take = in_valid && in_ready;

    integer b;
    reg [3:0] kbytes;
    reg       over;
    reg [2:0] over_lane;
    always @* begin
        kbytes = 0; over = 1'b0; over_lane = 0;
        for (b = 7; b >= 0; b = b - 1) begin
            kbytes = kbytes + in_keep[b];
            if (in_keep[b] && in_data[8*b +: 8] > max_byte) begin over = 1'b1; over_lane = b; end
        end
    end

    wire [8*VW-1:0] shifted = {{(8*VW-64){1'b0}}, beat >> (8 * lo)} << (8 * wo);
    wire [VW-1:0]   be = ((1 << piece) - 1) << wo;

    always @(posedge clk) begin
        wr_en <= 1'b0;
        if (rst) begin
            have <= 1'b0; img_done <= 1'b0; bad <= 1'b0;
        end else if (start) begin
            have <= 1'b0; img_done <= 1'b0; bad <= 1'b0; bad_index <= 0;
            pix <= pix_bytes; img <= img_bytes; c <= 0; ib <= 0; wo <= 0; waddr <= 0; seen <= 0;
        end else begin
            if (resume) img_done <= 1'b0;
            if (go) begin
                wr_en <= 1'b1; wr_addr <= waddr; wr_data <= shifted; wr_be <= be;
                lo <= lo + piece[3:0];
                if (ib + piece == img) begin                 // the image is complete
                    img_done <= 1'b1; ib <= 0; c <= 0; wo <= 0; waddr <= 0;
                end else begin
                    ib <= ib + piece;
                    if (c + piece == pix) begin c <= 0; wo <= 0; waddr <= waddr + 1'b1; end
                    else begin
                        c <= c + piece;
                        if (wo + piece == VW) begin wo <= 0; waddr <= waddr + 1'b1; end
                        else wo <= wo + piece[WB:0];
                    end
                end
                if (beat_end) have <= 1'b0;
            end
            if (take) begin
                have <= 1'b1; beat <= in_data; nb <= kbytes; lo <= 0;
                seen <= seen + kbytes;
                if (over && !bad) begin bad <= 1'b1; bad_index <= seen + over_lane; end
            end
        end
    end
endmodule
`default_nettype wire
