// msp_adder_tree: the signed sum of N inputs of IN_W bits as a balanced binary tree of adders
// (recursive), combinational. OUT_W must hold the sum (IN_W + clog2(N) always does).
`default_nettype none
module msp_adder_tree #(
    parameter integer N     = 16,
    parameter integer IN_W  = 13,
    parameter integer OUT_W = IN_W + $clog2(N)
) (
    input  wire [IN_W*N-1:0]       x,
    output wire signed [OUT_W-1:0] sum
);
    generate
        if (N == 1) begin : leaf
            assign sum = {{(OUT_W - IN_W){x[IN_W-1]}}, x};
        end else begin : node
            localparam integer H = N / 2;
            wire signed [OUT_W-1:0] lo_sum, hi_sum;
            msp_adder_tree #(.N(H), .IN_W(IN_W), .OUT_W(OUT_W)) lo (.x(x[IN_W*H-1:0]), .sum(lo_sum));
            msp_adder_tree #(.N(N - H), .IN_W(IN_W), .OUT_W(OUT_W)) hi (.x(x[IN_W*N-1:IN_W*H]), .sum(hi_sum));
            assign sum = lo_sum + hi_sum;
        end
    endgenerate
endmodule
`default_nettype wire
