// msp_output_stage: from the array's accumulators to the output stream.
//  - capture: when a pass of an output position ends, its U = LUT_ROWS + DSP_ROWS accumulators
//    (or the pool unit's VW lanes) are copied into a holding register, so the next pass can start,
//    and from there into the drain's shadow once the previous pass is drained (the drain may lag
//    the array by a pass without stalling it);
//  - drain: the shadow's used units, two per cycle in engine channel order, get their row's bias
//    and requantization (docs/numerics.md 6, two msp_requant), or pass raw (RAW_OUT, 4 bytes) or
//    as they are (max pool), and land in a staging buffer at their output channel (two banks by
//    channel parity, so two consecutive channels are written at once);
//  - send: when a position's last pass is drained, its channels (one position of the NHWC output)
//    go to the stream packer, two per cycle, while the other half of the staging buffer fills.
// Units of pass p (conv2d/linear): LUT unit u holds SP2 row p*LUT_ROWS + u; DSP slot s holds
// fixed-4 row p*DSP_ROWS + s, or, from slot f8_base (the fixed-4 count rounded up to even) on,
// fixed-8 row (p*DSP_ROWS + s - f8_base) / 2 in its even slot. Pool ops: unit u of pass p is
// channel p*VW + u. The row parameter RAM (8 bytes per row, engine order) lives here too.
`include "msp_contract.vh"
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
    output wire [1:0]            n_open,           // passes here not yet drained: held, in the drain
    input  wire [32*(LUT_ROWS+DSP_ROWS)-1:0] acc,
    // to the stream packer
    output reg                   out_valid,
    output reg  [63:0]           out_data,
    output reg  [3:0]            out_nbytes,
    input  wire                  out_ready
);
    localparam integer U = LUT_ROWS + DSP_ROWS, RB = $clog2(MAX_ROWS);
    localparam [15:0] L16 = LUT_ROWS;
    reg [1:0]  mode_r;
    reg [15:0] och, np, s2, f4, f8, f8_base, f8_end, mult_r;
    reg [5:0]  shift_r;
    reg        osig;
    reg [3:0]  obits;

    reg [63:0] prm [0:MAX_ROWS-1];
    always @(posedge clk) if (prm_we) prm[prm_row] <= prm_data;

    // ---- capture and drain ----
    reg [32*U-1:0] held, shadow;
    reg            held_full;                     // a captured pass waits for the drain
    reg            busy;                          // the shadow holds a pass not yet drained
    reg [15:0]     pass, lbase, dbase;            // pass of the shadow; pass * LUT_ROWS (pool: * VW), pass * DSP_ROWS
    reg [15:0]     j, n_a, n_ab, n_all, c_a, c_b, c_c, u_c;   // items of the pass: LUT units, fixed-4 slots, fixed-8 pairs
    reg            par;                           // staging half the drain writes
    reg [1:0]      full;                          // staging halves waiting to be sent
    reg            fin, fin_par;                  // a position's last items are being written
    wire           pool = mode_r[1];
    assign can_capture = !held_full;
    assign n_open = held_full + busy;

    function [15:0] sat(input [15:0] a, input [15:0] b, input [15:0] cap);   // clamp(a - b, 0, cap)
        sat = (a <= b) ? 16'd0 : ((a - b) > cap ? cap : a - b);
    endfunction
    // segment bounds of the pass about to be captured
    wire [15:0] f8_lo = (f8_base > dbase) ? f8_base - dbase : 16'd0;
    wire [15:0] f8_hi = (f8_end > dbase) ? ((f8_end - dbase < DSP_ROWS) ? f8_end - dbase : DSP_ROWS) : 16'd0;
    wire [15:0] na = pool ? sat(och, lbase, VW) : sat(s2, lbase, LUT_ROWS);
    wire [15:0] nb = pool ? 16'd0 : sat(f4, dbase, DSP_ROWS);
    wire [15:0] nc = (pool || f8_hi <= f8_lo) ? 16'd0 : (f8_hi - f8_lo) >> 1;

    // item k of the pass: its unit and its output channel
    function [31:0] item(input [15:0] k);        // {unit, channel}
        if (k < n_a)       item = {k, c_a + k};
        else if (k < n_ab) item = {L16 + (k - n_a), c_b + (k - n_a)};
        else               item = {u_c + ((k - n_ab) << 1), c_c + (k - n_ab)};
    endfunction
    wire [31:0] it0 = item(j), it1 = item(j + 1);
    wire [15:0] ch0 = it0[15:0], ch1 = it1[15:0];
    wire        go = busy && !full[par];
    wire        lane0 = go && j < n_all;
    wire        lane1 = lane0 && j + 1 < n_all && ch0[0] != ch1[0];   // one write per staging bank
    wire [15:0] j_next = j + (lane1 ? 16'd2 : 16'd1);

    // drain pipeline: d1 (parameter read, shadow word), d2 (arithmetic, staging write)
    reg          d0_1, d1_1;
    reg [RB-1:0] ch0_1, ch1_1;
    reg [31:0]   v0_1, v1_1;
    reg          par_1;
    reg [63:0]   p0_1, p1_1;
    always @(posedge clk) begin
        p0_1 <= prm[ch0[RB-1:0]];
        p1_1 <= prm[ch1[RB-1:0]];
    end
    wire [31:0] r0, r1;
    msp_out_lane lane_a (.mode(mode_r), .v(v0_1), .prm(p0_1), .mult(mult_r), .shift(shift_r),
                         .out_signed(osig), .out_bits(obits), .result(r0));
    msp_out_lane lane_b (.mode(mode_r), .v(v1_1), .prm(p1_1), .mult(mult_r), .shift(shift_r),
                         .out_signed(osig), .out_bits(obits), .result(r1));

    reg [31:0] stage0 [0:MAX_ROWS-1];             // even channels: {half, channel / 2}
    reg [31:0] stage1 [0:MAX_ROWS-1];             // odd channels
    wire w0_is_0 = d0_1 && !ch0_1[0], w1_is_0 = d1_1 && !ch1_1[0];
    wire w0_is_1 = d0_1 && ch0_1[0],  w1_is_1 = d1_1 && ch1_1[0];
    always @(posedge clk) begin
        if (w0_is_0 || w1_is_0) stage0[{par_1, (w0_is_0 ? ch0_1[RB-1:1] : ch1_1[RB-1:1])}] <= w0_is_0 ? r0 : r1;
        if (w0_is_1 || w1_is_1) stage1[{par_1, (w0_is_1 ? ch0_1[RB-1:1] : ch1_1[RB-1:1])}] <= w0_is_1 ? r0 : r1;
    end

    // ---- send: channels 2k and 2k + 1 per cycle ----
    reg         spar, sv, s_two;
    reg [15:0]  sk;                               // pair index
    reg [31:0]  sq0, sq1;
    wire        sadv = !out_valid || out_ready;
    wire        sissue = full[spar] && 2 * sk < och && sadv;
    always @(posedge clk)
        if (sissue) begin
            sq0 <= stage0[{spar, sk[RB-2:0]}];
            sq1 <= stage1[{spar, sk[RB-2:0]}];
        end

    always @(posedge clk) begin
        if (rst || start) begin
            busy <= 1'b0; held_full <= 1'b0; d0_1 <= 1'b0; d1_1 <= 1'b0; par <= 1'b0; full <= 2'b00; fin <= 1'b0;
            spar <= 1'b0; sk <= 0; sv <= 1'b0; out_valid <= 1'b0;
            if (start) begin
                mode_r <= mode; och <= out_ch; np <= passes; s2 <= n_sp2; f4 <= n_f4; f8 <= n_f8;
                f8_base <= n_f4 + n_f4[0]; f8_end <= n_f4 + n_f4[0] + 2 * n_f8;
                mult_r <= mult; shift_r <= shift; osig <= out_signed; obits <= out_bits;
                pass <= 0; lbase <= 0; dbase <= 0;
            end
        end else begin
            // capture into the holding register; pass `pass` enters the shadow with its item list
            if (capture && !held_full) begin held <= acc; held_full <= 1'b1; end
            if (held_full && !busy) begin
                shadow <= held; held_full <= 1'b0; busy <= 1'b1; j <= 0;
                n_a <= na; n_ab <= na + nb; n_all <= na + nb + nc;
                c_a <= lbase; c_b <= s2 + dbase; u_c <= LUT_ROWS + f8_lo;
                c_c <= s2 + f4 + (((f8_base > dbase ? f8_base : dbase) - f8_base) >> 1);
            end
            d0_1 <= lane0; d1_1 <= lane1; par_1 <= par;
            if (lane0) begin ch0_1 <= ch0[RB-1:0]; v0_1 <= shadow[32*it0[31:16] +: 32]; end
            if (lane1) begin ch1_1 <= ch1[RB-1:0]; v1_1 <= shadow[32*it1[31:16] +: 32]; end
            if (lane0) j <= j_next;
            // the pass is drained once its last items issue (or at once if it has none)
            fin <= 1'b0;
            if (go && j_next >= n_all) begin
                busy <= 1'b0;
                if (pass == np - 1) begin
                    pass <= 0; lbase <= 0; dbase <= 0;
                    fin <= 1'b1; fin_par <= par; par <= !par;
                end else begin
                    pass <= pass + 1; lbase <= lbase + (pool ? VW : LUT_ROWS); dbase <= dbase + DSP_ROWS;
                end
            end
            if (fin) full[fin_par] <= 1'b1;              // after its last staging writes
            // send the full half, two channels per cycle
            if (sadv) begin
                sv <= sissue;
                out_valid <= sv;
                if (sv) begin
                    out_data <= (mode_r == 2'd1) ? {sq1, sq0} : {48'd0, sq1[7:0], sq0[7:0]};
                    out_nbytes <= (s_two ? 4'd2 : 4'd1) * ((mode_r == 2'd1) ? 4'd4 : 4'd1);
                end
            end
            if (sissue) begin
                s_two <= 2 * sk + 1 < och;
                if (2 * sk + 2 >= och) begin sk <= 0; full[spar] <= 1'b0; spar <= !spar; end
                else sk <= sk + 1'b1;
            end
        end
    end
endmodule

// msp_out_lane: one drained value: bias and requantization (per-row parameters), raw int32, the
// global average pool's requantization, or the max pool's byte as it is.
module msp_out_lane (
    input  wire [1:0]  mode,
    input  wire [31:0] v,
    input  wire [63:0] prm,                       // a row's parameter record: bias, multiplier, shift
    input  wire [15:0] mult,
    input  wire [5:0]  shift,
    input  wire        out_signed,
    input  wire [3:0]  out_bits,
    output wire [31:0] result
);
    wire [31:0] bias = prm[`MSP_ROW_BIAS_LSB +: `MSP_ROW_BIAS_WIDTH];
    wire [15:0] row_mult = prm[`MSP_ROW_MULTIPLIER_LSB +: `MSP_ROW_MULTIPLIER_WIDTH];
    wire [5:0]  row_shift = prm[`MSP_ROW_SHIFT_LSB +: 6];         // (shifts are 0..MSP_SHIFT_MAX)
    wire signed [31:0] with_bias = $signed(v) + (mode[1] ? 32'sd0 : $signed(bias));
    wire [7:0] q;
    msp_requant rq (.acc(with_bias), .mult(mode == 2'd2 ? mult : row_mult),
                    .shift(mode == 2'd2 ? shift : row_shift), .out_signed(out_signed), .out_bits(out_bits), .y(q));
    assign result = (mode == 2'd1) ? with_bias : (mode == 2'd3) ? {24'd0, v[7:0]} : {24'd0, q};
endmodule
`default_nettype wire
