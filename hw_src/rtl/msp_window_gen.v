// msp_window_gen: forms convolution windows on chip. The activation buffer holds the layer's
// input image in NHWC with every pixel's channels padded to GROUPS words of VW bytes (word
// address (y * IN_W + x) * GROUPS + g). For each output position (oy, ox), in row-major order,
// this walks the window in the weights' order: kernel row i, kernel column j, channel group g
// (docs/numerics.md 7.1: K index (i * kw + j) * C + c). It emits one word address per cycle,
// or `pad` where the tap falls in the zero padding. `first` and `last` mark a position's first
// and last step (clear and drain the accumulators). A linear layer is a 1x1 window over a 1x1 image.
`default_nettype none
module msp_window_gen #(
    parameter integer ADDR_W = 14
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              start,      // one cycle: latch the geometry and begin
    input  wire [15:0]       in_h, in_w,
    input  wire [7:0]        groups,     // ceil(IN_C / VW)
    input  wire [7:0]        kh, kw, sh, sw,
    input  wire [7:0]        pad_top, pad_left,
    input  wire [15:0]       out_h, out_w,
    input  wire              stall,      // hold the current step (downstream not ready)
    output reg               valid,
    output reg  [ADDR_W-1:0] addr,
    output reg               pad,
    output reg               first,
    output reg               last,
    output reg               done        // one cycle after the last step
);
    reg        busy;
    reg [15:0] oy, ox, h, w, ho, wo;
    reg [7:0]  i, j, g, ng, kh_r, kw_r, sh_r, sw_r, pt, pl;

    // the tap of the current step, in input coordinates (signed: may fall in the padding)
    wire signed [17:0] y = $signed({2'b0, oy}) * $signed({10'b0, sh_r}) - $signed({10'b0, pt}) + $signed({10'b0, i});
    wire signed [17:0] x = $signed({2'b0, ox}) * $signed({10'b0, sw_r}) - $signed({10'b0, pl}) + $signed({10'b0, j});
    wire outside = y < 0 || x < 0 || y >= $signed({2'b0, h}) || x >= $signed({2'b0, w});
    wire step_first = (i == 0) && (j == 0) && (g == 0);
    wire step_last  = (i == kh_r - 1) && (j == kw_r - 1) && (g == ng - 1);

    always @(posedge clk) begin
        done <= 1'b0;
        if (rst) begin
            busy <= 1'b0; valid <= 1'b0;
        end else if (start && !busy) begin
            busy <= 1'b1; valid <= 1'b0;
            h <= in_h; w <= in_w; ng <= groups; kh_r <= kh; kw_r <= kw; sh_r <= sh; sw_r <= sw;
            pt <= pad_top; pl <= pad_left; ho <= out_h; wo <= out_w;
            oy <= 0; ox <= 0; i <= 0; j <= 0; g <= 0;
        end else if (busy && !stall) begin
            valid <= 1'b1;
            pad   <= outside;
            addr  <= outside ? {ADDR_W{1'b0}} : ((y * w + x) * ng + g);
            first <= step_first;
            last  <= step_last;
            // advance: g, then j, then i, then ox, then oy
            if (g != ng - 1) g <= g + 1;
            else begin
                g <= 0;
                if (j != kw_r - 1) j <= j + 1;
                else begin
                    j <= 0;
                    if (i != kh_r - 1) i <= i + 1;
                    else begin
                        i <= 0;
                        if (ox != wo - 1) ox <= ox + 1;
                        else begin
                            ox <= 0;
                            if (oy != ho - 1) oy <= oy + 1;
                            else busy <= 1'b0;         // that was the final step
                        end
                    end
                end
            end
        end else if (!busy && valid && !stall) begin
            valid <= 1'b0;
            done  <= 1'b1;
        end
    end
endmodule
`default_nettype wire
