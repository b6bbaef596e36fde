// msp_mac_array: the engine's compute array. LUT_ROWS SP2-4 rows (LUT core) and DSP_ROWS
// fixed-4/fixed-8 rows (DSP core) take the same VW activations each cycle (one broadcast
// stream), multiply them by their own VW weight codes and add the row sums into int32
// accumulators: per row, acc = sum over the K/VW steps of dot(a_step, w_step) (docs/numerics.md 5).
// `clear` with `valid` starts a new accumulation (the first step of an output position).
`default_nettype none
module msp_mac_array #(
    parameter integer VW       = 16,
    parameter integer LUT_ROWS = 41,
    parameter integer DSP_ROWS = 24
) (
    input  wire                         clk,
    input  wire                         valid,       // a, codes hold one K-step
    input  wire                         clear,       // this step is the first of an accumulation
    input  wire [9*VW-1:0]              a,           // VW activations, 9-bit signed each
    input  wire [4*VW*LUT_ROWS-1:0]     lut_codes,   // row r's VW SP2-4 codes at [4*VW*r +: 4*VW]
    input  wire [8*VW*DSP_ROWS-1:0]     dsp_codes,   // row r's VW fixed codes at [8*VW*r +: 8*VW]
    input  wire [DSP_ROWS-1:0]          dsp_fixed4,  // per DSP row: 1 = fixed-4, 0 = fixed-8
    output reg  [32*(LUT_ROWS+DSP_ROWS)-1:0] acc     // LUT rows first, then DSP rows; int32 each
);
    localparam integer LW = 13 + $clog2(VW), DW = 17 + $clog2(VW);
    genvar r;
    generate
        for (r = 0; r < LUT_ROWS; r = r + 1) begin : lut
            wire signed [LW-1:0] s;
            msp_lut_row #(.VW(VW)) row (.a(a), .codes(lut_codes[4*VW*r +: 4*VW]), .sum(s));
            wire signed [31:0] step = s;
            always @(posedge clk)
                if (valid) acc[32*r +: 32] <= clear ? step : $signed(acc[32*r +: 32]) + step;
        end
        for (r = 0; r < DSP_ROWS; r = r + 1) begin : dsp
            wire signed [DW-1:0] s;
            msp_dsp_row #(.VW(VW)) row (.a(a), .codes(dsp_codes[8*VW*r +: 8*VW]), .fixed4(dsp_fixed4[r]), .sum(s));
            wire signed [31:0] step = s;
            always @(posedge clk)
                if (valid) acc[32*(LUT_ROWS+r) +: 32] <= clear ? step : $signed(acc[32*(LUT_ROWS+r) +: 32]) + step;
        end
    endgenerate
endmodule
`default_nettype wire
