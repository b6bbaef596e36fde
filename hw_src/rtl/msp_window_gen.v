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
    reg        busy;
    reg [15:0] oy, ox, h, w, ho, wo, np, p;
    reg [11:0] g, ng;
    reg [15:0] i, j, kh_r, kw_r;
    reg [7:0]  sh_r, sw_r, pt, pl;
    reg        pool_r;
    reg [WADDR_W-1:0] wcount;

    // the tap of the current step, in input coordinates (signed: may fall in the padding)
    wire signed [17:0] y = $signed({2'b0, oy}) * $signed({10'b0, sh_r}) - $signed({10'b0, pt}) + $signed({2'b0, i});
    wire signed [17:0] x = $signed({2'b0, ox}) * $signed({10'b0, sw_r}) - $signed({10'b0, pl}) + $signed({2'b0, j});
    wire outside = y < 0 || x < 0 || y >= $signed({2'b0, h}) || x >= $signed({2'b0, w});
    wire [11:0] g_last = pool_r ? 12'd0 : ng - 12'd1;       // pooling walks one group per pass
    wire [11:0] group = pool_r ? p[11:0] : g;
    wire step_first = (i == 0) && (j == 0) && (g == 0);
    wire step_last  = (i == kh_r - 1) && (j == kw_r - 1) && (g == g_last);
    assign next_first = busy && step_first;

    always @(posedge clk) begin
        done <= 1'b0;
        if (rst) begin
            busy <= 1'b0; valid <= 1'b0;
        end else if (start && !busy) begin
            busy <= 1'b1; valid <= 1'b0;
            h <= in_h; w <= in_w; ng <= groups; kh_r <= kh; kw_r <= kw; sh_r <= sh; sw_r <= sw;
            pt <= pad_top; pl <= pad_left; ho <= out_h; wo <= out_w; np <= passes; pool_r <= pool;
            oy <= 0; ox <= 0; i <= 0; j <= 0; g <= 0; p <= 0; wcount <= 0;
        end else if (busy && stall) begin
            valid <= 1'b0;                         // a held step is not a step
        end else if (busy) begin
            valid <= 1'b1;
            pad   <= outside;
            addr  <= outside ? {ADDR_W{1'b0}} : ((y * w + x) * ng + group);
            waddr <= wcount;
            pass  <= p;
            first <= step_first;
            last  <= step_last;
            wcount <= wcount + 1'b1;
            // advance: g, then j, then i, then the pass, then ox, then oy
            if (g != g_last) g <= g + 1;
            else begin
                g <= 0;
                if (j != kw_r - 1) j <= j + 1;
                else begin
                    j <= 0;
                    if (i != kh_r - 1) i <= i + 1;
                    else begin
                        i <= 0;
                        if (p != np - 1) p <= p + 1;
                        else begin
                            p <= 0; wcount <= 0;
                            if (ox != wo - 1) ox <= ox + 1;
                            else begin
                                ox <= 0;
                                if (oy != ho - 1) oy <= oy + 1;
                                else busy <= 1'b0;         // that was the final step
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
endmodule
`default_nettype wire
