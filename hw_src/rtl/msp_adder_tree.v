// msp_adder_tree: the signed sum of N inputs of IN_W bits as a balanced binary tree of adders.
// OUT_W must hold the sum (IN_W + clog2(N) always does).
// REG_EVERY = 0: combinational (recursive tree; clk unused). REG_EVERY = R > 0: the tree is built
// level by level (level j adds pairs of level j-1, an odd last term passes through); every R-th
// level and the last one end in a register, so the sum is a register output LATENCY =
// ceil(clog2(N) / R) cycles after x; a new x may enter every cycle.
`default_nettype none
module msp_adder_tree #(
    parameter integer N         = 16,
    parameter integer IN_W      = 13,
    parameter integer OUT_W     = IN_W + $clog2(N),
    parameter integer REG_EVERY = 0
) (
    input  wire                    clk,
    input  wire [IN_W*N-1:0]       x,
    output wire signed [OUT_W-1:0] sum
);
    localparam integer LEVELS  = $clog2(N);
    localparam integer LATENCY = REG_EVERY > 0 ? (LEVELS + REG_EVERY - 1) / REG_EVERY : 0;
    // terms left after level j: ceil(N / 2^j)
    function integer count(input integer j);
        count = (N + (1 << j) - 1) >> j;
    endfunction
    generate
        if (REG_EVERY == 0) begin : comb
            if (N == 1) begin : leaf
                assign sum = {{(OUT_W - IN_W){x[IN_W-1]}}, x};
            end else begin : node
                localparam integer H = N / 2;
                wire signed [OUT_W-1:0] lo_sum, hi_sum;
                msp_adder_tree #(.N(H), .IN_W(IN_W), .OUT_W(OUT_W)) lo (.clk(clk), .x(x[IN_W*H-1:0]), .sum(lo_sum));
                msp_adder_tree #(.N(N - H), .IN_W(IN_W), .OUT_W(OUT_W)) hi (.clk(clk), .x(x[IN_W*N-1:IN_W*H]), .sum(hi_sum));
                assign sum = lo_sum + hi_sum;
            end
        end else begin : piped
            genvar j, i;
            for (j = 0; j <= LEVELS; j = j + 1) begin : lv
                wire [OUT_W*N-1:0] v;                   // count(j) terms of OUT_W bits (rest unused)
                if (j == 0) begin : in
                    for (i = 0; i < N; i = i + 1) begin : ext
                        assign v[OUT_W*i +: OUT_W] = {{(OUT_W - IN_W){x[IN_W*i + IN_W-1]}}, x[IN_W*i +: IN_W]};
                    end
                end else begin : add
                    wire [OUT_W*N-1:0] s;
                    for (i = 0; i < count(j); i = i + 1) begin : pr
                        if (2 * i + 1 < count(j - 1)) begin : two
                            assign s[OUT_W*i +: OUT_W] = $signed(lv[j-1].v[OUT_W*(2*i) +: OUT_W])
                                                       + $signed(lv[j-1].v[OUT_W*(2*i+1) +: OUT_W]);
                        end else begin : one
                            assign s[OUT_W*i +: OUT_W] = lv[j-1].v[OUT_W*(2*i) +: OUT_W];
                        end
                    end
                    if (count(j) < N) begin : pad
                        assign s[OUT_W*N-1:OUT_W*count(j)] = 0;
                    end
                    if (j % REG_EVERY == 0 || j == LEVELS) begin : r
                        reg [OUT_W*N-1:0] q;
                        always @(posedge clk) q <= s;
                        assign v = q;
                    end else begin : c
                        assign v = s;
                    end
                end
            end
            assign sum = lv[LEVELS].v[OUT_W-1:0];
        end
    endgenerate
endmodule
`default_nettype wire
