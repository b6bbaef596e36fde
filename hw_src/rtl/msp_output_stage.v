// msp_output_stage: from the array's accumulators to the output stream.
//  - capture: when a pass of an output position ends, its U = LUT_ROWS + DSP_ROWS accumulators
//    (or the pool unit's VW lanes) are copied into a shadow, so the next pass can start;
//  - drain: the shadow's used units, one per cycle in engine channel order, get their row's bias
//    and requantization (docs/numerics.md 6, msp_requant), or pass raw (RAW_OUT, 4 bytes) or as
//    they are (max pool), and land in a staging buffer at their output channel;
//  - send: when a position's last pass is drained, its channels (one position of the NHWC output)
//    go to the stream packer, one per cycle, while the other half of the staging buffer fills.
// Units of pass p (conv2d/linear): LUT unit u holds SP2 row p*LUT_ROWS + u; DSP slot s holds
// fixed-4 row p*DSP_ROWS + s, or, from slot f8_base (the fixed-4 count rounded up to even) on,
// fixed-8 row (p*DSP_ROWS + s - f8_base) / 2 in its even slot. Pool ops: unit u of pass p is
// channel p*VW + u. The row parameter RAM (8 bytes per row, engine order) lives here too.
`default_nettype none
module msp_output_stage #(
    parameter integer VW       = 16,
    parameter integer LUT_ROWS = 41,
    parameter integer DSP_ROWS = 24,
    parameter integer MAX_ROWS = 1024
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire                  start,           // one cycle: a new layer (latch the geometry)
    input  wire [1:0]            mode,            // 0 requant per row, 1 raw int32, 2 requant (global avg pool), 3 as is (max pool)
    input  wire [15:0]           out_ch,          // channels per position
    input  wire [15:0]           passes,
    input  wire [15:0]           n_sp2, n_f4, n_f8,
    input  wire [15:0]           mult,            // global avg pool
    input  wire [5:0]            shift,           // global avg pool
    input  wire                  out_signed,
    input  wire [3:0]            out_bits,
    // row parameter writes (the params packet: one beat per row)
    input  wire                  prm_we,
    input  wire [$clog2(MAX_ROWS)-1:0] prm_row,
    input  wire [63:0]           prm_data,
    // capture
    output wire                  can_capture,
    input  wire                  capture,
    input  wire [32*(LUT_ROWS+DSP_ROWS)-1:0] acc,
    // to the stream packer
    output reg                   out_valid,
    output reg  [31:0]           out_data,
    output reg  [3:0]            out_nbytes,
    input  wire                  out_ready
);
    localparam integer U = LUT_ROWS + DSP_ROWS, RB = $clog2(MAX_ROWS), UB = $clog2(U + 1);
    reg [1:0]  mode_r;
    reg [15:0] och, np, s2, f4, f8, f8_base, f8_end, mult_r;
    reg [5:0]  shift_r;
    reg        osig;
    reg [3:0]  obits;

    reg [63:0] prm [0:MAX_ROWS-1];
    always @(posedge clk) if (prm_we) prm[prm_row] <= prm_data;

    // ---- capture and drain ----
    reg [32*U-1:0] shadow;
    reg            busy;                          // the shadow holds a pass not yet drained
    reg [15:0]     pass, lbase, dbase;            // pass of the shadow; pass * LUT_ROWS (pool: * VW), pass * DSP_ROWS
    reg [1:0]      seg;                           // 0 LUT units / pool lanes, 1 fixed-4 slots, 2 fixed-8 pairs
    reg [15:0]     i, seg_end, ch;
    reg            par;                           // staging half the drain writes
    reg [1:0]      full;                          // staging halves waiting to be sent
    wire           pool = mode_r[1];
    wire [15:0]    stride_a = pool ? VW : LUT_ROWS;
    assign can_capture = !busy;

    function [15:0] sat(input [15:0] a, input [15:0] b, input [15:0] cap);   // clamp(a - b, 0, cap)
        sat = (a <= b) ? 16'd0 : ((a - b) > cap ? cap : a - b);
    endfunction

    // the item the drain issues this cycle
    wire [15:0] unit = (seg == 2'd0) ? i : LUT_ROWS + i;
    wire        issue = busy && !full[par] && i < seg_end;
    // segment bounds of the shadow's pass
    wire [15:0] f8_lo = (f8_base > dbase) ? f8_base - dbase : 16'd0;
    wire [15:0] f8_hi = (f8_end > dbase) ? ((f8_end - dbase < DSP_ROWS) ? f8_end - dbase : DSP_ROWS) : 16'd0;

    // drain pipeline: d1 (parameter read, shadow word), d2 (arithmetic, staging write)
    reg         d1;
    reg [RB-1:0] ch1;
    reg [31:0]  v1;
    reg         last1, par1;
    reg [63:0]  p1;
    always @(posedge clk) p1 <= prm[ch[RB-1:0]];

    wire signed [31:0] with_bias = $signed(v1) + (mode_r == 2'd0 || mode_r == 2'd1 ? $signed(p1[31:0]) : 32'sd0);
    wire [7:0] q;
    msp_requant rq (.acc(with_bias), .mult(mode_r == 2'd2 ? mult_r : p1[47:32]),
                    .shift(mode_r == 2'd2 ? shift_r : p1[53:48]), .out_signed(osig), .out_bits(obits), .y(q));
    wire [31:0] result = (mode_r == 2'd1) ? with_bias : (mode_r == 2'd3) ? {24'd0, v1[7:0]} : {24'd0, q};

    reg [31:0] stage [0:2*MAX_ROWS-1];
    always @(posedge clk) if (d1) stage[{par1, ch1}] <= result;

    // ---- send ----
    reg         spar, sv;
    reg [15:0]  sc;
    reg [31:0]  sq;
    wire        sadv = !out_valid || out_ready;
    wire        sissue = full[spar] && sc < och && sadv;
    always @(posedge clk) if (sissue) sq <= stage[{spar, sc[RB-1:0]}];

    always @(posedge clk) begin
        if (rst || start) begin
            busy <= 1'b0; d1 <= 1'b0; par <= 1'b0; full <= 2'b00; spar <= 1'b0; sc <= 0; sv <= 1'b0;
            out_valid <= 1'b0;
            if (start) begin
                mode_r <= mode; och <= out_ch; np <= passes; s2 <= n_sp2; f4 <= n_f4; f8 <= n_f8;
                f8_base <= n_f4 + n_f4[0]; f8_end <= n_f4 + n_f4[0] + 2 * n_f8;
                mult_r <= mult; shift_r <= shift; osig <= out_signed; obits <= out_bits;
                pass <= 0; lbase <= 0; dbase <= 0;
            end
        end else begin
            // capture: pass `pass` of a position enters the shadow; set up its first segment
            if (capture && !busy) begin
                shadow <= acc; busy <= 1'b1; seg <= 2'd0; i <= 0;
                seg_end <= pool ? sat(och, lbase, VW) : sat(s2, lbase, LUT_ROWS);
                ch <= lbase;
            end
            d1 <= issue;
            if (issue) begin
                ch1 <= ch[RB-1:0]; v1 <= shadow[32*unit +: 32]; par1 <= par;
                i <= i + (seg == 2'd2 ? 16'd2 : 16'd1);
                ch <= ch + 1'b1;
            end
            // end of a segment: the next one, or the end of the pass
            if (busy && !issue && !full[par] && i >= seg_end) begin
                if (seg == 2'd0 && !pool) begin
                    seg <= 2'd1; i <= 0; seg_end <= sat(f4, dbase, DSP_ROWS); ch <= s2 + dbase;
                end else if (seg == 2'd1) begin
                    seg <= 2'd2; i <= f8_lo; seg_end <= (f8_hi > f8_lo) ? f8_hi : f8_lo;
                    ch <= s2 + f4 + (((f8_base > dbase ? f8_base : dbase) - f8_base) >> 1);
                end else begin                                  // the pass is drained
                    busy <= 1'b0;
                    if (pass == np - 1) begin
                        pass <= 0; lbase <= 0; dbase <= 0;
                        full[par] <= 1'b1; par <= !par;
                    end else begin
                        pass <= pass + 1; lbase <= lbase + stride_a; dbase <= dbase + DSP_ROWS;
                    end
                end
            end
            // send the full half, one channel per cycle
            if (sadv) begin
                sv <= sissue;
                out_valid <= sv;
                if (sv) begin
                    out_data <= sq; out_nbytes <= (mode_r == 2'd1) ? 4'd4 : 4'd1;
                end
            end
            if (sissue) begin
                if (sc == och - 1) begin sc <= 0; full[spar] <= 1'b0; spar <= !spar; end
                else sc <= sc + 1'b1;
            end
        end
    end
endmodule
`default_nettype wire
