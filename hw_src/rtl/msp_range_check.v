// msp_range_check: the BAD_DATA check of an unsigned input stream (u4: 15, u5: 31): `bad` rises
// for the first byte above `max_byte` and `bad_index` holds that byte's index in the packet.
// Three register stages (lane flags and byte count; the count and the first lane; the index), so
// neither the compare nor the lane's priority encoder meets the packet-wide 32-bit sum in one
// cycle: `bad` follows its beat by three cycles, far less than any layer takes between a
// packet's last beat and its DONE. Used by the activation writer
// and by the engine for add's input b.
`default_nettype none
module msp_range_check (
    input  wire        clk,
    input  wire        clear,                  // a new packet: count from zero, forget `bad`
    input  wire        take,                   // a beat is taken this cycle
    input  wire [63:0] data,
    input  wire [7:0]  keep,
    input  wire [3:0]  nbytes,                 // keep's ones (the beat FIFO counts them)
    input  wire [7:0]  max_byte,
    output reg         bad,
    output reg  [31:0] bad_index
);
    integer b;
    reg [7:0] over;
    always @* for (b = 0; b < 8; b = b + 1) over[b] = keep[b] && data[8*b +: 8] > max_byte;
    reg       v1;
    reg [7:0] over1;
    reg [3:0] n1;
    reg [31:0] seen;                           // bytes of the packet before the beat in stage 2
    reg [2:0] lane;
    always @* begin
        lane = 0;
        for (b = 7; b >= 0; b = b - 1) if (over1[b]) lane = b[2:0];
    end
    reg        hit2;                           // stage 3: a byte over, at seen2 + lane2
    reg [2:0]  lane2;
    reg [31:0] seen2;
    always @(posedge clk) begin
        v1 <= take && !clear; over1 <= over; n1 <= nbytes;
        hit2 <= v1 && !clear && over1 != 0; lane2 <= lane; seen2 <= seen;
        if (clear) begin
            bad <= 1'b0; bad_index <= 0; seen <= 0;
        end else begin
            if (v1) seen <= seen + {28'd0, n1};
            if (hit2 && !bad) begin bad <= 1'b1; bad_index <= seen2 + {29'd0, lane2}; end
        end
    end
endmodule
`default_nettype wire
