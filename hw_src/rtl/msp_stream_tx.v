// msp_stream_tx: packs the engine's output bytes into the S2MM packet on the 64-bit AXI4-Stream
// (docs/registers.md 5). Byte i of the packet goes to beat i / 8, lane i % 8; every beat but
// the last has TKEEP = 0xFF; the last has TLAST and TKEEP marking its valid low lanes.
// `start` with `total_bytes` begins a packet. The producer offers 1 to 8 bytes per cycle
// (`in_nbytes`, low lanes of `in_data`), and `done` pulses when the last beat is accepted.
// The beats leave through a registered slice (msp_axis_slice): every M_AXIS output is a flip-flop,
// so the DMA's S2MM side meets registers, at one cycle more of latency.
`default_nettype none
module msp_stream_tx (
    input  wire        aclk,
    input  wire        aresetn,
    input  wire        flush,          // soft reset: drop what is buffered
    input  wire        start,          // one cycle: a packet of total_bytes begins
    input  wire [31:0] total_bytes,
    // producer
    input  wire        in_valid,
    input  wire [63:0] in_data,
    input  wire [3:0]  in_nbytes,      // 1..8
    output wire        in_ready,
    // AXI4-Stream master (S2MM)
    output wire [63:0] m_axis_tdata,
    output wire [7:0]  m_axis_tkeep,
    output wire        m_axis_tlast,
    output wire        m_axis_tvalid,
    input  wire        m_axis_tready,
    output reg         done
);
    reg [127:0] buffer;                // fill bytes waiting, byte 0 in bits 7..0
    reg [4:0]   fill;                  // 0..16
    reg         active;
    // Timing: "everything is in the buffer" is a registered flag and TLAST compares the beat with
    // the bytes left to send (a down-counter), not sums against the packet size.
    reg         last_bytes;                                   // every byte of the packet taken
    reg [31:0]  qleft, left;                                  // bytes still to take, to send
    // a beat offered is the last when left <= 8: every beat but the last carries 8 bytes, and a
    // beat is offered only with 8 bytes or every byte in (fill <= left), so it carries them all
    reg         left_le8, left_le16;

    // the beat offered to the slice
    wire        c_valid = active && (fill >= 5'd8 || (fill != 5'd0 && last_bytes));
    reg  [7:0]  c_keep;                                       // lane k: min(fill, 8) > k
    integer k;
    always @* for (k = 0; k < 8; k = k + 1) c_keep[k] = {27'd0, fill} > k;
    wire        c_last  = left_le8;
    wire        c_ready;
    msp_axis_slice #(.W(73)) slice (.clk(aclk), .rst(!aresetn || flush),
        .s_data({c_last, c_keep, buffer[63:0]}), .s_valid(c_valid), .s_ready(c_ready),
        .m_data({m_axis_tlast, m_axis_tkeep, m_axis_tdata}), .m_valid(m_axis_tvalid), .m_ready(m_axis_tready));
    assign in_ready      = active && fill <= 5'd8 && !last_bytes;

    wire        take = in_valid && in_ready;
    wire        give = c_valid && c_ready;
    // A beat given is 8 bytes, or the packet's last bytes (nothing above them), so what is kept
    // is the buffer past 8 bytes; a producer's bytes are taken only while fill <= 8, so they go
    // to byte 0 when a beat leaves (fill was 8) and to byte `fill` otherwise: no shift by a
    // computed amount.
    // The next fill: both sums are formed from registers and the producer's byte count, and
    // give / take only pick one after the adders (behind a choice, the count sat on the handshake's
    // path). fill - 8 for fill 8..16 needs no adder.
    wire [4:0]  fill_s = fill[4] ? 5'd8 : fill[3] ? {2'b00, fill[2:0]} : 5'd0;   // max(fill - 8, 0)
    (* keep *) wire [4:0] fill_t = fill + {1'b0, in_nbytes}, fill_st = fill_s + {1'b0, in_nbytes};
    wire [4:0]  fill_next = give ? (take ? fill_st : fill_s) : (take ? fill_t : fill);
    wire [127:0] kept = give ? buffer >> 64 : buffer;
    wire [127:0] inm  = {64'd0, in_data & ~(64'hFFFFFFFFFFFFFFFF << (8 * in_nbytes))};
    wire [127:0] incoming = !take ? 128'd0 : give ? inm : inm << (8 * fill);

    always @(posedge aclk) begin
        // the packet's last beat leaves the slice (a zero-byte packet: at start)
        done <= m_axis_tvalid && m_axis_tready && m_axis_tlast && aresetn && !flush;
        if (!aresetn || flush) begin
            active <= 1'b0; fill <= 5'd0; buffer <= 128'd0;
            last_bytes <= 1'b1; qleft <= 32'd0; left <= 32'd0; left_le8 <= 1'b1; left_le16 <= 1'b1;
        end else if (start && !active) begin
            active <= total_bytes != 32'd0;
            last_bytes <= total_bytes == 32'd0; qleft <= total_bytes; left <= total_bytes;
            left_le8 <= total_bytes <= 32'd8; left_le16 <= total_bytes <= 32'd16;
            fill <= 5'd0; buffer <= 128'd0;
            if (total_bytes == 32'd0) done <= 1'b1;
        end else if (active) begin
            buffer <= kept | incoming;
            fill   <= fill_next;
            if (take) begin
                qleft <= qleft - {28'd0, in_nbytes};
                last_bytes <= qleft[31:4] == 28'd0 && qleft[3:0] == in_nbytes;
            end
            // every beat but a packet's last carries 8 bytes (a short beat only once every byte
            // is in), and after the last `left` is not read until the next start: a constant step
            if (give) begin left <= left - 32'd8; left_le8 <= left_le16; left_le16 <= left <= 32'd24; end
            if (give && c_last) active <= 1'b0;
        end
    end
endmodule
`default_nettype wire
