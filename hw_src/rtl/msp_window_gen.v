// msp_window_gen: forms convolution windows on chip. The activation buffer holds the layer's
// input image in NHWC with every pixel's channels padded to GROUPS words of VW bytes (word
// address (y * IN_W + x) * GROUPS + g). For each output position (oy, ox), in row-major order,
// and for each of `passes` passes over it (one per group of rows the array computes at once),
// this walks the window in the weights' order: kernel row i, kernel column j, channel group g
// (docs/numerics.md 7.1: K index (i * kw + j) * C + c). It emits one word address per cycle,
// or `pad` where the tap falls in the zero padding. `first` and `last` mark a pass's first and
// last step (clear and drain the accumulators); `waddr` counts a position's steps across its
// passes (the weight banks' address). With `pool`, a pass covers one channel group (the pass
// number) and walks the taps only: max pooling and global average pooling.
// A linear layer is a 1x1 window over a 1x1 image.
//
// No multiply on the step path (multiplying the address out every step chained three DSPs,
// about 18 ns, against docs/timing.md's 6.5 ns target for the XC7Z020-1 at 125 MHz): the tap
// coordinates (y, x) and the tap address are counters, updated as (g, j, i, pass, ox, oy)
// advance by adding constant strides. The tap address is kept relative to the first tap's,
// rel = addr(y, x, group) - addr(-PAD_TOP, -PAD_LEFT, 0), in five registers: the tap (ta),
// its kernel row's first tap (rb), the pass's first tap (pb), the window's (wb) and the output
// row's (orow). A step adds 1 (next channel group, or next kernel column: the groups of
// adjacent pixels are adjacent words), GROUPS (next column when pooling), IN_W * GROUPS (next
// kernel row), 1 (next pass when pooling, else 0), SW * GROUPS (next output column) or
// SH * IN_W * GROUPS (next output row). The emitted address is rel + base0, with base0 =
// -(PAD_TOP * IN_W + PAD_LEFT) * GROUPS, all mod 2^ADDR_W (only taps inside the image are
// emitted, and their addresses are exact). The strides and base0 are products of the layer's
// geometry, computed once after `start` on three multipliers (a DSP slice each) whose operands
// are registers of their own (loaded, through a one-hot phase choice, the cycle before) and whose
// product is a register: A, B and P registers of the DSP, nothing between them and the multiply
// (a choice of operands in front of the multiply missed the XCZU7EV-2 target):
//   setup cycle 1:   operands of IN_W * GROUPS, SW * GROUPS, PAD_TOP * IN_W; -GROUPS; bounds - 1
//   setup cycle 2:   those products
//   setup cycle 3:   operands of SH * (IN_W * GROUPS), PAD_LEFT * -GROUPS, (PAD_TOP * IN_W) * -GROUPS
//   setup cycle 4:   those products
//   first step's:    base0 = the sum of the last two
// (the first step's address is 0 whatever base0 is: its tap is (-PAD_TOP, -PAD_LEFT), so either
// it lies in the padding or both pads are 0 and base0 is 0; base0 is first read by the second
// step). So the first step comes SETUP_CYCLES = 4 cycles later after `start` than it did when
// the address was multiplied out every step (the (1 + SETUP_CYCLES)th edge after start, unless
// stalled); from there every output is the same as that walk's, cycle for cycle
// (tests/hdl/tb_window.py checks it against a model of that walk). During the setup cycles
// `next_first` is low and `stall` is ignored: no step is due.
`default_nettype none
module msp_window_gen #(
    parameter integer ADDR_W = 14,
    parameter integer WADDR_W = 10
) (
    input  wire               clk,
    input  wire               rst,
    input  wire               start,      // one cycle: latch the geometry and begin
    input  wire [15:0]        in_h, in_w,
    input  wire [11:0]        groups,     // ceil(IN_C / VW)
    input  wire [15:0]        kh, kw,     // 16 bits: global average pooling walks the whole image
    input  wire [7:0]         sh, sw,
    input  wire [7:0]         pad_top, pad_left,
    input  wire [15:0]        out_h, out_w,
    input  wire [15:0]        passes,     // >= 1 (pool: = groups)
    input  wire               pool,
    input  wire               stall,      // hold the step (valid drops meanwhile)
    output wire               next_first, // the step emitted at the next edge (unless stalled) is a first
    output reg                valid,
    output reg  [ADDR_W-1:0]  addr,
    output reg  [WADDR_W-1:0] waddr,
    output reg  [15:0]        pass,
    output reg                pad,
    output reg                first,
    output reg                last,
    output reg                done        // one cycle after the last step
);
    // how much later the first step comes than with the address multiplied out every step:
    // at the (1 + SETUP_CYCLES)th edge after start's, unless stalled (once per walk: per image)
    localparam integer SETUP_CYCLES = 4;
    localparam integer A = ADDR_W;

    reg        busy;                           // from start to the final step
    reg        run;                            // stepping (busy, setup over)
    reg        s1, s2, s3, s4, s5;             // setup cycles 1 to 4, then the first step's (one-hot)
    reg [15:0] oy, ox, h, w, np, p;
    reg [11:0] g, ng;
    reg [15:0] i, j, kh_r, kw_r, ho, wo;
    reg [7:0]  sh_r, sw_r, pt, pl;
    reg        pool_r;
    reg [WADDR_W-1:0] wcount;
    // loop bounds minus one, 17 bits: a bound of 0 gives 2^17 - 1, which no 16-bit count meets
    // (as `count == bound - 1` in 32-bit arithmetic never does)
    reg [16:0] kh_m1, kw_m1, np_m1, wo_m1, ho_m1;
    reg [11:0] g_last;                          // pooling walks one group per pass

    // the tap of the current step, in input coordinates (signed, 18 bits: may fall in the
    // padding); y0, x0: the window's first tap; nl = -pad_left, an output row's first x0
    reg signed [17:0] y, x, y0, x0, nl;
    wire outside = y < 0 || x < 0 || y >= $signed({2'b0, h}) || x >= $signed({2'b0, w});

    // relative tap addresses (see the header) and the strides
    reg [A-1:0] ta, rb, pb, wb, orow;
    reg [A-1:0] wng, swng, cinc, base0, nng;
    reg [A-1:0] m1, m2, m3;                     // the three multipliers' products
    // from setup cycle 4 on, m1 keeps SH * IN_W * GROUPS: the next output row's stride (read by
    // the first step's advance, so no time to copy it; wng and swng are copied as m1 and m2
    // go on to their second products)
    wire [A-1:0] shwng = m1;

    // setup multiplies: operand registers that feed the multiplier only, products registered
    reg [A-1:0] a1, b1, a2, b2, a3, b3;
    always @(posedge clk) begin
        if (start && !busy) base0 <= {A{1'b0}};    // the first step's (see the header)
        if (s1 || s3) begin
            a1 <= s1 ? w    : sh_r; b1 <= s1 ? ng : m1;
            a2 <= s1 ? sw_r : pl;   b2 <= s1 ? ng : nng;
            a3 <= s1 ? w    : m3;   b3 <= s1 ? pt : nng;
        end
        if (s2 || s4) begin
            m1 <= a1 * b1; m2 <= a2 * b2; m3 <= a3 * b3;
        end
        if (s1) begin
            nng <= {A{1'b0}} - ng;
            cinc <= pool_r ? ng : {{A-1{1'b0}}, 1'b1};
            g_last <= pool_r ? 12'd0 : ng - 12'd1;
            kh_m1 <= {1'b0, kh_r} - 17'd1; kw_m1 <= {1'b0, kw_r} - 17'd1; np_m1 <= {1'b0, np} - 17'd1;
            wo_m1 <= {1'b0, wo} - 17'd1;   ho_m1 <= {1'b0, ho} - 17'd1;
        end
        if (s3) begin wng <= m1; swng <= m2; end
        if (s5) base0 <= m2 + m3;
    end

    wire g_end  = g == g_last;
    wire j_end  = {1'b0, j}  == kw_m1;
    wire i_end  = {1'b0, i}  == kh_m1;
    wire p_end  = {1'b0, p}  == np_m1;
    wire ox_end = {1'b0, ox} == wo_m1;
    wire oy_end = {1'b0, oy} == ho_m1;
    wire step_last  = i_end && j_end && g_end;
    // i == j == g == 0, kept as a flag: a step follows a window's last step or the walk's start.
    // (next_first gates the engine's stall, which holds every register here: three 16-bit
    // compares in front of it made the engine's worst path)
    reg  step_first;
    assign next_first = run && step_first;

    always @(posedge clk) begin
        done <= 1'b0;
        if (rst) begin
            busy <= 1'b0; run <= 1'b0; s1 <= 1'b0; s2 <= 1'b0; s3 <= 1'b0; s4 <= 1'b0; s5 <= 1'b0;
            valid <= 1'b0;
        end else begin
            s2 <= s1; s3 <= s2; s4 <= s3; s5 <= s4; s1 <= 1'b0;
            if (s4) run <= 1'b1;                   // the strides the first step adds are ready
            if (start && !busy) begin
                busy <= 1'b1; run <= 1'b0; s1 <= 1'b1; valid <= 1'b0;
                h <= in_h; w <= in_w; ng <= groups; kh_r <= kh; kw_r <= kw; sh_r <= sh; sw_r <= sw;
                pt <= pad_top; pl <= pad_left; ho <= out_h; wo <= out_w; np <= passes; pool_r <= pool;
                oy <= 0; ox <= 0; i <= 0; j <= 0; g <= 0; p <= 0; wcount <= 0; step_first <= 1'b1;
                ta <= 0; rb <= 0; pb <= 0; wb <= 0; orow <= 0;
            end else if (busy && !run) begin
                valid <= 1'b0;
                if (s1) begin
                    y <= -$signed({10'b0, pt}); y0 <= -$signed({10'b0, pt});
                    x <= -$signed({10'b0, pl}); x0 <= -$signed({10'b0, pl}); nl <= -$signed({10'b0, pl});
                end
            end else if (run && stall) begin
                valid <= 1'b0;                     // a held step is not a step
            end else if (run) begin
                valid <= 1'b1;
                pad   <= outside;
                addr  <= outside ? {A{1'b0}} : ta + base0;
                waddr <= wcount;
                pass  <= p;
                first <= step_first;
                last  <= step_last;
                step_first <= step_last;
                wcount <= wcount + 1'b1;
                // advance: g, then j, then i, then the pass, then ox, then oy
                if (!g_end) begin
                    g <= g + 1; ta <= ta + cinc;
                end else begin
                    g <= 0;
                    if (!j_end) begin
                        j <= j + 1; x <= x + 1; ta <= ta + cinc;
                    end else begin
                        j <= 0;
                        if (!i_end) begin
                            i <= i + 1; y <= y + 1; x <= x0;
                            rb <= rb + wng; ta <= rb + wng;
                        end else begin
                            i <= 0;
                            if (!p_end) begin
                                p <= p + 1; y <= y0; x <= x0;
                                pb <= pb + pool_r; rb <= pb + pool_r; ta <= pb + pool_r;
                            end else begin
                                p <= 0; wcount <= 0;
                                if (!ox_end) begin
                                    ox <= ox + 1; x0 <= x0 + sw_r; x <= x0 + sw_r; y <= y0;
                                    wb <= wb + swng; pb <= wb + swng; rb <= wb + swng; ta <= wb + swng;
                                end else begin
                                    ox <= 0;
                                    if (!oy_end) begin
                                        oy <= oy + 1; y0 <= y0 + sh_r; y <= y0 + sh_r; x0 <= nl; x <= nl;
                                        orow <= orow + shwng; wb <= orow + shwng; pb <= orow + shwng;
                                        rb <= orow + shwng; ta <= orow + shwng;
                                    end else begin
                                        busy <= 1'b0; run <= 1'b0;     // that was the final step
                                    end
                                end
                            end
                        end
                    end
                end
            end else if (valid) begin
                valid <= 1'b0;
                done  <= 1'b1;
            end
        end
    end
endmodule
`default_nettype wire
