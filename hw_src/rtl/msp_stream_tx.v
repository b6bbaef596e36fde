// msp_stream_tx: packs the engine's output bytes into the S2MM packet on the 64-bit AXI4-Stream
// (docs/registers.md 5). Byte i of the packet goes to beat i / 8, lane i % 8; every beat but
// the last has TKEEP = 0xFF; the last has TLAST and TKEEP marking its valid low lanes.
// `start` with `total_bytes` begins a packet. The producer offers 1 to 8 bytes per cycle
// (`in_nbytes`, low lanes of `in_data`), and `done` pulses when the last beat is accepted.
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

    wire [4:0]  beat_bytes = (fill >= 5'd8) ? 5'd8 : fill;
    assign m_axis_tvalid = active && (fill >= 5'd8 || (fill != 5'd0 && last_bytes));
    assign m_axis_tdata  = buffer[63:0];
    assign m_axis_tkeep  = (beat_bytes == 5'd8) ? 8'hFF : ((8'd1 << beat_bytes) - 8'd1);
    assign m_axis_tlast  = left[31:4] == 28'd0 && left[3:0] == beat_bytes[3:0];
    assign in_ready      = active && fill <= 5'd8 && !last_bytes;

    wire        take = in_valid && in_ready;
    wire        give = m_axis_tvalid && m_axis_tready;
    wire [4:0]  in_n  = take ? {1'b0, in_nbytes} : 5'd0;
    // A beat given is 8 bytes, or the packet's last bytes (nothing above them), so what is kept
    // is the buffer past 8 bytes; a producer's bytes are taken only while fill <= 8, so they go
    // to byte 0 when a beat leaves (fill was 8) and to byte `fill` otherwise: no shift by a
    // computed amount.
    wire [4:0]  fill_g = give ? (fill[4] | fill[3] ? fill - 5'd8 : 5'd0) : fill;
    wire [127:0] kept = give ? buffer >> 64 : buffer;
    wire [127:0] inm  = {64'd0, in_data & ~(64'hFFFFFFFFFFFFFFFF << (8 * in_nbytes))};
    wire [127:0] incoming = !take ? 128'd0 : give ? inm : inm << (8 * fill);

    always @(posedge aclk) begin
        done <= 1'b0;
        if (!aresetn || flush) begin
            active <= 1'b0; fill <= 5'd0; buffer <= 128'd0;
            last_bytes <= 1'b1; qleft <= 32'd0; left <= 32'd0;
        end else if (start && !active) begin
            active <= total_bytes != 32'd0;
            last_bytes <= total_bytes == 32'd0; qleft <= total_bytes; left <= total_bytes;
            fill <= 5'd0; buffer <= 128'd0;
            if (total_bytes == 32'd0) done <= 1'b1;
        end else if (active) begin
            buffer <= kept | incoming;
            fill   <= fill_g + in_n;
            if (take) begin
                qleft <= qleft - {28'd0, in_nbytes};
                last_bytes <= qleft[31:4] == 28'd0 && qleft[3:0] == in_nbytes;
            end
            // every beat but a packet's last carries 8 bytes (a short beat only once every byte
            // is in), and after the last `left` is not read until the next start: a constant step
            if (give) left <= left - 32'd8;
            if (give && m_axis_tlast) begin active <= 1'b0; done <= 1'b1; end
        end
    end
endmodule
`default_nettype wire
