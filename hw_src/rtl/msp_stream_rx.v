// msp_stream_rx: receives one MM2S packet from the 64-bit AXI4-Stream (docs/registers.md 5) into
// a buffer write port, counting bytes by TKEEP. `arm` with `expect_bytes` readies it for one
// packet. When the packet's last beat (TLAST) arrives with exactly that many bytes, it pulses
// `done`. When TLAST arrives early, or the bytes run past the count, it pulses `len_error` with
// `got_bytes` and then drains the packet to its TLAST. It never stalls the stream while armed or
// draining, so a bad packet cannot hang the DMA. `hold` pauses a packet (TREADY low) while the
// consumer behind the write port is full; a drain is never held.
// `flush` (the soft reset) returns it to IDLE at once, whatever it was doing, and never drains:
// the documented recovery (docs/registers.md 4) resets the AXI DMA first, which aborts the MM2S
// packet, so no tail of it (and no TLAST) will follow. Draining to a TLAST would then swallow
// the next layer's first packet. The stream enters through a registered slice (msp_axis_slice,
// with TKEEP's ones counted on the way in), so the DMA's registers meet flip-flops here: up to
// two beats wait in it while the receiver is IDLE, and `flush` drops them.
`default_nettype none
module msp_stream_rx (
    input  wire        aclk,
    input  wire        aresetn,
    input  wire        flush,          // soft reset: drop the current packet, back to IDLE
    input  wire        hold,           // the consumer cannot take another beat: stall RECV
    // AXI4-Stream slave (MM2S)
    input  wire [63:0] s_axis_tdata,
    input  wire [7:0]  s_axis_tkeep,
    input  wire        s_axis_tlast,
    input  wire        s_axis_tvalid,
    output wire        s_axis_tready,  // (a register)
    // control
    input  wire        arm,            // one cycle: expect a packet of expect_bytes
    input  wire [31:0] expect_bytes,
    output reg         done,           // one cycle: the packet arrived whole
    output reg         len_error,      // one cycle: TLAST at the wrong byte count
    output reg  [31:0] got_bytes,      // bytes counted when len_error or done pulsed
    // buffer write port: one beat per cycle, byte address of its first lane
    output reg         wr_en,
    output reg  [31:0] wr_addr,
    output reg  [63:0] wr_data,
    output reg  [7:0]  wr_keep,
    output reg  [3:0]  wr_nbytes       // the beat's bytes (TKEEP's ones), with wr_keep
);
    localparam IDLE = 2'd0, RECV = 2'd1, DRAIN = 2'd2;
    reg [1:0]  state;
    reg [31:0] count, want;          // ("expect" is a SystemVerilog keyword)
    // Timing: the length checks compare the beat's byte count with the bytes still expected
    // (`rem`, a down-counter) through flags registered with it, not `count + nbytes` with `want`.
    reg [31:0] rem;                  // want - count
    reg        rem_lt8, rem_le8;     // rem < 8, rem <= 8

    // bytes in the incoming beat: TKEEP marks the valid low lanes (count its ones)
    integer i;
    reg [3:0] in_nbytes;
    always @* begin
        in_nbytes = 4'd0;
        for (i = 0; i < 8; i = i + 1) in_nbytes = in_nbytes + {3'd0, s_axis_tkeep[i]};
    end
    // the beat at the slice's output: data, keep, last, its byte count
    wire [63:0] b_data;
    wire [7:0]  b_keep;
    wire        b_last, b_valid;
    wire [3:0]  nbytes;
    wire        b_ready = (state == RECV && !hold) || (state == DRAIN);
    msp_axis_slice #(.W(77)) slice (.clk(aclk), .rst(!aresetn || flush),
        .s_data({in_nbytes, s_axis_tlast, s_axis_tkeep, s_axis_tdata}), .s_valid(s_axis_tvalid),
        .s_ready(s_axis_tready), .m_data({nbytes, b_last, b_keep, b_data}), .m_valid(b_valid),
        .m_ready(b_ready));
    wire beat = b_valid && b_ready;
    wire [31:0] total = count + {28'd0, nbytes};
    wire        over  = rem_lt8 && nbytes > rem[3:0];             // total > want
    wire        exact = rem_le8 && nbytes == rem[3:0];            // total == want
    // the flags of rem - nbytes, from rem itself (no subtraction on the way): nbytes <= 8
    wire        hi0 = rem[31:4] == 28'd0, hi1 = rem[31:4] == 28'd1;
    wire [4:0]  nb8 = nbytes + 5'd8;
    wire        lt8_n = hi0 && {1'b0, rem[3:0]} < nb8;
    wire        le8_n = (hi0 && {1'b0, rem[3:0]} <= nb8) || (hi1 && {1'b0, rem[3:0]} + 5'd8 <= {1'b0, nbytes});

    always @(posedge aclk) begin
        done <= 1'b0;
        len_error <= 1'b0;
        wr_en <= 1'b0;
        if (!aresetn) begin
            state <= IDLE; count <= 32'd0; want <= 32'd0; got_bytes <= 32'd0;
        end else if (flush) begin
            state <= IDLE;
            count <= 32'd0;
        end else begin
            case (state)
                IDLE: if (arm) begin
                    state <= RECV; count <= 32'd0; want <= expect_bytes; rem <= expect_bytes;
                    rem_lt8 <= expect_bytes < 32'd8; rem_le8 <= expect_bytes <= 32'd8;
                end
                RECV: if (beat) begin
                    if (over || (b_last && !exact)) begin
                        len_error <= 1'b1; got_bytes <= total;
                        state <= b_last ? IDLE : DRAIN;
                    end else begin
                        wr_en <= 1'b1; wr_addr <= count; wr_data <= b_data; wr_keep <= b_keep;
                        wr_nbytes <= nbytes;
                        count <= total; rem <= rem - {28'd0, nbytes}; rem_lt8 <= lt8_n; rem_le8 <= le8_n;
                        if (b_last) begin done <= 1'b1; got_bytes <= total; state <= IDLE; end
                    end
                end
                DRAIN: if (beat && b_last) state <= IDLE;
                default: state <= IDLE;
            endcase
        end
    end
endmodule
`default_nettype wire
