// msp_mac_array: the engine's compute array. LUT_ROWS SP2-4 rows (LUT core) and DSP_ROWS fixed-4
// row slots (DSP core: DSP_ROWS / 2 msp_dsp_pair units, one DSP per two products) take the same VW
// activations each cycle (one broadcast stream), multiply them by their own VW weight codes and
// add the row sums into int32 accumulators: per row, acc = sum over the K/VW steps of
// dot(a_step, w_step) (docs/numerics.md 5). A pair in fixed-8 mode runs one fixed-8 row in its
// two slots (result in the first slot, 0 in the second).
// `clear` with `valid` starts a new accumulation (the first step of an output position).
// Either core may be absent: LUT_ROWS = 0 is a DSP-only array, DSP_ROWS = 0 a LUT-only one
// (the resources script's comparison and per-MAC probes). An absent core's code inputs shrink to
// one unused bit, so no vector has zero or negative width; LUT_ROWS + DSP_ROWS >= 1.
`default_nettype none
module msp_mac_array #(
    parameter integer VW       = 16,
    parameter integer LUT_ROWS = 41,
    parameter integer DSP_ROWS = 24               // even: DSP_ROWS / 2 pairs
) (
    input  wire                         clk,
    input  wire                         valid,       // a, codes hold one K-step
    input  wire                         clear,       // this step is the first of an accumulation
    input  wire [9*VW-1:0]              a,           // VW activations, 9-bit signed each
    input  wire [(LUT_ROWS > 0 ? 4*VW*LUT_ROWS : 1)-1:0] lut_codes,   // LUT row r's VW SP2-4 codes at [4*VW*r +: 4*VW]
    input  wire [(DSP_ROWS > 0 ? 4*VW*DSP_ROWS : 1)-1:0] dsp_codes,   // DSP slot s's VW nibbles at [4*VW*s +: 4*VW]
    input  wire [(DSP_ROWS > 1 ? DSP_ROWS/2 : 1)-1:0]    dsp_fixed8,  // per pair: slots 2p, 2p+1 hold one fixed-8 row
    output reg  [32*(LUT_ROWS+DSP_ROWS)-1:0] acc     // LUT rows first, then DSP slots; int32 each
);
    localparam integer LW = 13 + $clog2(VW), DW = 17 + $clog2(VW);
    genvar r;
    generate                                      // a core with no rows generates nothing
        for (r = 0; r < LUT_ROWS; r = r + 1) begin : lut
            wire signed [LW-1:0] s;
            msp_lut_row #(.VW(VW)) row (.a(a), .codes(lut_codes[4*VW*r +: 4*VW]), .sum(s));
            wire signed [31:0] step = s;
            always @(posedge clk)
                if (valid) acc[32*r +: 32] <= clear ? step : $signed(acc[32*r +: 32]) + step;
        end
        for (r = 0; r < DSP_ROWS / 2; r = r + 1) begin : dsp
            wire signed [DW-1:0] sa, sb;
            msp_dsp_pair #(.VW(VW)) pair (.a(a), .codes_a(dsp_codes[4*VW*(2*r) +: 4*VW]),
                                          .codes_b(dsp_codes[4*VW*(2*r+1) +: 4*VW]), .fixed8(dsp_fixed8[r]),
                                          .sum_a(sa), .sum_b(sb));
            wire signed [31:0] step_a = sa, step_b = sb;
            localparam integer A = 32 * (LUT_ROWS + 2 * r), B = A + 32;
            always @(posedge clk)
                if (valid) begin
                    acc[A +: 32] <= clear ? step_a : $signed(acc[A +: 32]) + step_a;
                    acc[B +: 32] <= clear ? step_b : $signed(acc[B +: 32]) + step_b;
                end
        end
    endgenerate
endmodule
`default_nettype wire
