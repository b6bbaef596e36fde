// msp_layer_check: validates a layer descriptor at START (docs/registers.md 6, in the documented
// order: UNSUPPORTED_OP, BAD_DESCRIPTOR, BUFFER_OVERFLOW) and derives what the datapath needs:
// output size, packet sizes, window geometry, passes and buffer use.
// Sequential, to stay small: one shared multiplier and one shared divider work through the
// products and quotients one per step (about 120 cycles, once per layer); `done` pulses when
// the outputs and the error are valid. Sizes saturate at 2^32 - 1 (never below a capacity).
`include "msp_contract.vh"
`default_nettype none
module msp_layer_check #(
    parameter integer VW         = 16,          // a power of two
    parameter integer LUT_ROWS   = 41,
    parameter integer DSP_ROWS   = 24,
    parameter integer ACT_WORDS  = 8192,        // activation buffer words of VW bytes
    parameter integer BANK_WORDS = 512,         // words of each row unit's weight bank
    parameter integer MAX_ROWS   = 1024         // rows (conv2d/linear) or channels (pools) per position
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         start,                  // one cycle: `desc` holds the layer
    input  wire [511:0] desc,
    output reg          done,                   // one cycle: the outputs below are valid
    output reg  [3:0]   err_code,
    output reg  [31:0]  err_info,
    output wire [3:0]   op,
    output reg  [31:0]  pkt0, pkt1, pkt2,       // MM2S packet bytes (0 = no such packet)
    output reg  [31:0]  out_bytes,              // the S2MM packet
    output reg  [15:0]  win_h, win_w, win_kh, win_kw, out_h, out_w, passes, out_ch,
    output reg  [11:0]  groups,
    output reg  [15:0]  taps,
    output reg  [31:0]  chans,                  // bytes per pixel the buffer pads (linear: K)
    output reg  [31:0]  img_bytes,              // bytes the activation writer takes per image
    output reg  [15:0]  steps                   // bank words per row (conv2d/linear)
);
    localparam [3:0] E_DESC = `MSP_ERR_BAD_DESCRIPTOR, E_OP = `MSP_ERR_UNSUPPORTED_OP, E_BUF = `MSP_ERR_BUFFER_OVERFLOW;
    localparam integer VB = $clog2(VW);
    wire [15:0] batch = desc[`MSP_FIELD_BATCH_BIT +: `MSP_FIELD_BATCH_WIDTH];
    wire [15:0] h = desc[`MSP_FIELD_IN_H_BIT +: `MSP_FIELD_IN_H_WIDTH];
    wire [15:0] w = desc[`MSP_FIELD_IN_W_BIT +: `MSP_FIELD_IN_W_WIDTH];
    wire [15:0] c = desc[`MSP_FIELD_IN_C_BIT +: `MSP_FIELD_IN_C_WIDTH];
    wire [15:0] oc = desc[`MSP_FIELD_OUT_C_BIT +: `MSP_FIELD_OUT_C_WIDTH];
    wire [7:0]  kh = desc[`MSP_FIELD_KH_BIT +: `MSP_FIELD_KH_WIDTH];
    wire [7:0]  kw = desc[`MSP_FIELD_KW_BIT +: `MSP_FIELD_KW_WIDTH];
    wire [7:0]  sh = desc[`MSP_FIELD_SH_BIT +: `MSP_FIELD_SH_WIDTH];
    wire [7:0]  sw = desc[`MSP_FIELD_SW_BIT +: `MSP_FIELD_SW_WIDTH];
    wire [7:0]  pt = desc[`MSP_FIELD_PAD_TOP_BIT +: `MSP_FIELD_PAD_TOP_WIDTH];
    wire [7:0]  pl = desc[`MSP_FIELD_PAD_LEFT_BIT +: `MSP_FIELD_PAD_LEFT_WIDTH];
    wire [7:0]  pb = desc[`MSP_FIELD_PAD_BOTTOM_BIT +: `MSP_FIELD_PAD_BOTTOM_WIDTH];
    wire [7:0]  pr = desc[`MSP_FIELD_PAD_RIGHT_BIT +: `MSP_FIELD_PAD_RIGHT_WIDTH];
    wire [7:0]  t_in = desc[`MSP_FIELD_IN_TYPE_BIT +: `MSP_FIELD_IN_TYPE_WIDTH];
    wire [7:0]  t_b = desc[`MSP_FIELD_IN_B_TYPE_BIT +: `MSP_FIELD_IN_B_TYPE_WIDTH];
    wire [7:0]  t_out = desc[`MSP_FIELD_OUT_TYPE_BIT +: `MSP_FIELD_OUT_TYPE_WIDTH];
    wire        raw = desc[`MSP_FIELD_RAW_OUT_BIT];
    wire [15:0] n_sp2 = desc[`MSP_FIELD_ROWS_SP2_BIT +: `MSP_FIELD_ROWS_SP2_WIDTH];
    wire [15:0] n_f4 = desc[`MSP_FIELD_ROWS_FIXED4_BIT +: `MSP_FIELD_ROWS_FIXED4_WIDTH];
    wire [15:0] n_f8 = desc[`MSP_FIELD_ROWS_FIXED8_BIT +: `MSP_FIELD_ROWS_FIXED8_WIDTH];
    wire [5:0]  shift = desc[`MSP_FIELD_SHIFT_BIT +: `MSP_FIELD_SHIFT_WIDTH];
    assign op = desc[`MSP_FIELD_OP_BIT +: `MSP_FIELD_OP_WIDTH];

    wire conv = op == `MSP_OP_CONV2D, lin = op == `MSP_OP_LINEAR, add = op == `MSP_OP_ADD;
    wire maxp = op == `MSP_OP_MAX_POOL, gap = op == `MSP_OP_GLOBAL_AVG_POOL;
    wire weighted = conv | lin, windowed = conv | maxp;
    function legal(input [7:0] t);
        legal = `MSP_ACT_LEGAL(t);
    endfunction
    function [31:0] sat32(input [63:0] x);
        sat32 = (x[63:32] != 0) ? 32'hFFFFFFFF : x[31:0];
    endfunction

    // ---- the derived sizes, one product or quotient per step ----
    reg  [31:0] hw, image, k, tp, ho, wo, g, p_lut, p_dsp, np, st, bank_need, bimage, act_need,
                t1, t2, hwo, t3, t4;
    reg  [5:0]  step;
    reg         busy, div_wait;
    wire [16:0] span_h = h + pt + pb, span_w = w + pl + pr;
    wire [31:0] pix = lin ? k : {16'd0, c};
    wire [31:0] slots = n_f4 + n_f4[0] + 2 * n_f8;
    wire [31:0] chan_out = weighted ? oc : c;
    reg  [31:0] ma, mb;
    always @* begin
        case (step)
            0: begin ma = h; mb = w; end
            1: begin ma = hw; mb = c; end
            2: begin ma = kh; mb = kw; end
            3: begin ma = tp; mb = c; end
            8: begin ma = conv ? tp : 32'd1; mb = g; end
            9: begin ma = np; mb = st; end
            10: begin ma = batch; mb = image; end
            11: begin ma = hw; mb = g; end
            12: begin ma = n_sp2 + n_f4; mb = (k + 1) >> 1; end
            13: begin ma = n_f8; mb = k; end
            14: begin ma = ho; mb = wo; end
            15: begin ma = hwo; mb = chan_out; end
            default: begin ma = t3; mb = batch; end
        endcase
    end
    wire [31:0] prod = sat32(ma * mb);
    // the divider: quotients rounded down (the steps round up by adding den - 1 first)
    reg  [31:0] dnum;
    reg  [15:0] dden;
    reg         dstart;
    wire [31:0] dq;
    wire        ddone;
    msp_divider divider (.clk(clk), .rst(rst), .start(dstart), .num(dnum), .den(dden), .q(dq), .done(ddone));

    always @(posedge clk) begin
        done <= 1'b0; dstart <= 1'b0;
        if (rst) begin
            busy <= 1'b0; div_wait <= 1'b0;
        end else if (start) begin
            busy <= 1'b1; step <= 0; div_wait <= 1'b0;
        end else if (busy && div_wait) begin
            if (ddone) begin
                div_wait <= 1'b0; step <= step + 1'b1;
                case (step)
                    4: ho <= dq + 1;
                    5: wo <= dq + 1;
                    6: p_lut <= dq;
                    default: p_dsp <= dq;
                endcase
            end
        end else if (busy) begin
            step <= step + 1'b1;
            case (step)
                0: hw <= prod;
                1: image <= prod;
                2: tp <= prod;
                3: k <= conv ? prod : image;
                4: begin dnum <= span_h - kh; dden <= sh; dstart <= 1'b1; div_wait <= 1'b1; step <= step; end
                5: begin dnum <= span_w - kw; dden <= sw; dstart <= 1'b1; div_wait <= 1'b1; step <= step; end
                6: begin
                    g <= (pix + VW - 1) >> VB;
                    dnum <= n_sp2 + LUT_ROWS - 1; dden <= (LUT_ROWS == 0) ? 16'd1 : LUT_ROWS;
                    dstart <= 1'b1; div_wait <= 1'b1; step <= step;
                end
                7: begin dnum <= slots + DSP_ROWS - 1; dden <= DSP_ROWS; dstart <= 1'b1; div_wait <= 1'b1; step <= step; end
                8: begin
                    st <= prod;
                    np <= !weighted ? g : (LUT_ROWS != 0 && p_lut > p_dsp) ? p_lut : p_dsp;
                end
                9: bank_need <= prod;
                10: bimage <= prod;
                11: act_need <= add ? (bimage + VW - 1) >> VB : (lin ? g : prod);
                12: t1 <= prod;
                13: t2 <= prod;
                14: hwo <= windowed ? prod : (add ? hw : 32'd1);
                15: t3 <= prod;
                default: begin t4 <= prod; busy <= 1'b0; done <= 1'b1; end
            endcase
        end
    end

    // ---- the checks, in the contract's order, on the derived values ----
    always @* begin
        err_code = `MSP_ERR_NONE; err_info = 32'd0;
        if (!`MSP_OP_LEGAL(op)) begin err_code = E_OP; err_info = op; end
        else if (batch == 0) begin err_code = E_DESC; err_info = `MSP_REG_BATCH; end
        else if (h == 0)     begin err_code = E_DESC; err_info = `MSP_REG_IN_H; end
        else if (w == 0)     begin err_code = E_DESC; err_info = `MSP_REG_IN_W; end
        else if (c == 0)     begin err_code = E_DESC; err_info = `MSP_REG_IN_C; end
        else if (weighted && oc == 0) begin err_code = E_DESC; err_info = `MSP_REG_OUT_C; end
        else if (windowed && (kh == 0 || kw == 0)) begin err_code = E_DESC; err_info = `MSP_REG_KERNEL; end
        else if (windowed && (sh == 0 || sw == 0)) begin err_code = E_DESC; err_info = `MSP_REG_STRIDE; end
        else if (maxp && ((pt > kh / 2) || (pb > kh / 2) || (pl > kw / 2) || (pr > kw / 2)))
            begin err_code = E_DESC; err_info = `MSP_REG_PADDING; end
        else if (windowed && (kh > span_h || kw > span_w)) begin err_code = E_DESC; err_info = `MSP_REG_KERNEL; end
        else if (!legal(t_in) || (add && !legal(t_b)) || ((add || gap || (weighted && !raw)) && !legal(t_out))
                 || (raw && !weighted)) begin err_code = E_DESC; err_info = `MSP_REG_ACT_TYPES; end
        else if (weighted && n_sp2 + n_f4 + n_f8 != oc) begin err_code = E_DESC; err_info = `MSP_REG_ROWS_SP2; end
        else if (weighted && k > `MSP_MAX_K) begin err_code = E_DESC; err_info = conv ? `MSP_REG_KERNEL : `MSP_REG_IN_C; end
        else if ((add || gap) && shift > `MSP_SHIFT_MAX) begin err_code = E_DESC; err_info = `MSP_REG_SHIFT; end
        // buffers: rows staging and weight banks first, then channels staging, then activations
        else if (weighted && (oc > MAX_ROWS || (LUT_ROWS == 0 && n_sp2 != 0)))
            begin err_code = E_BUF; err_info = `MSP_INFO_WEIGHT_BUFFER | `MSP_INFO_STAGING | oc; end
        else if (weighted && bank_need > BANK_WORDS) begin err_code = E_BUF; err_info = `MSP_INFO_WEIGHT_BUFFER | bank_need; end
        else if ((maxp || gap) && c > MAX_ROWS) begin err_code = E_BUF; err_info = `MSP_INFO_STAGING | c; end
        else if (act_need > ACT_WORDS) begin err_code = E_BUF; err_info = act_need << VB; end
    end

    always @* begin
        pkt0 = weighted ? {13'd0, oc, 3'd0} : bimage;
        pkt1 = weighted ? t1 + t2 : (add ? bimage : 32'd0);
        pkt2 = weighted ? bimage : 32'd0;
        out_bytes = raw ? t4 << 2 : t4;
        win_h = lin ? 16'd1 : h;   win_w = lin ? 16'd1 : w;
        win_kh = gap ? h : (conv | maxp) ? {8'd0, kh} : 16'd1;
        win_kw = gap ? w : (conv | maxp) ? {8'd0, kw} : 16'd1;
        out_h = windowed ? ho[15:0] : (add ? h : 16'd1);
        out_w = windowed ? wo[15:0] : (add ? w : 16'd1);
        passes = np[15:0];
        out_ch = chan_out[15:0];
        groups = g[11:0];
        taps = conv ? tp[15:0] : 16'd1;
        chans = add ? VW : pix;
        img_bytes = add ? bimage : image;
        steps = st[15:0];
    end
endmodule

// msp_divider: a restoring divider, one quotient bit per cycle (32 cycles); q = num / den,
// and 0 for den = 0 (the descriptor checks refuse those layers anyway).
module msp_divider (
    input  wire        clk,
    input  wire        rst,
    input  wire        start,
    input  wire [31:0] num,
    input  wire [15:0] den,
    output reg  [31:0] q,
    output reg         done
);
    reg [31:0] n;
    reg [15:0] d;
    reg [16:0] r;
    reg [5:0]  i;
    reg        busy;
    wire [16:0] trial = {r[15:0], n[31]};
    always @(posedge clk) begin
        done <= 1'b0;
        if (rst) begin
            busy <= 1'b0;
        end else if (start) begin
            busy <= den != 0; n <= num; d <= den; r <= 0; q <= 0; i <= 0;
            if (den == 0) done <= 1'b1;
        end else if (busy) begin
            n <= n << 1;
            if (trial >= d) begin r <= trial - d; q <= {q[30:0], 1'b1}; end
            else begin r <= trial; q <= {q[30:0], 1'b0}; end
            i <= i + 1'b1;
            if (i == 31) begin busy <= 1'b0; done <= 1'b1; end
        end
    end
endmodule
`default_nettype wire
