// msp_axis_slice: a registered AXI4-Stream slice (a two-entry skid buffer). Every output, and
// the ready it gives upstream, is a flip-flop, so the engine's stream ports reach the AXI DMA
// through no logic: the DMA's registers and the engine's meet register to register. Throughput is
// one beat per cycle; a beat takes one cycle more. `flush` drops what it holds (the soft reset:
// after the DMA's reset no beat of an aborted packet may reach the next layer).
`default_nettype none
module msp_axis_slice #(
    parameter integer W = 73                     // TDATA, TKEEP and TLAST, packed
) (
    input  wire         clk,
    input  wire         rst,                     // reset or flush: empty
    input  wire [W-1:0] s_data,
    input  wire         s_valid,
    output reg          s_ready,
    output reg  [W-1:0] m_data,
    output reg          m_valid,
    input  wire         m_ready
);
    reg [W-1:0] skid;                            // a beat taken while the output was stalled
    reg         skid_v;
    wire s_fire = s_valid && s_ready;
    wire m_free = m_ready || !m_valid;           // the output register takes a beat this cycle
    always @(posedge clk)
        if (rst) begin
            m_valid <= 1'b0; skid_v <= 1'b0; s_ready <= 1'b0;
        end else if (m_free) begin
            if (skid_v) begin m_data <= skid; m_valid <= 1'b1; skid_v <= 1'b0; end
            else begin m_valid <= s_fire; if (s_fire) m_data <= s_data; end
            s_ready <= 1'b1;
        end else if (s_fire) begin
            skid <= s_data; skid_v <= 1'b1; s_ready <= 1'b0;
        end else begin
            s_ready <= !skid_v;
        end
endmodule
`default_nettype wire
