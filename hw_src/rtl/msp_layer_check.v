// msp_layer_check: validates a layer descriptor at START (docs/registers.md 6, in the documented
// order: UNSUPPORTED_OP, BAD_DESCRIPTOR, BUFFER_OVERFLOW) and derives what the datapath needs:
// output size, packet sizes, window geometry, passes and buffer use.
// Sequential, to stay small and short-pathed: one shared multiplier (msp_seq_mul, about ten
// cycles a product) and one shared divider (32 cycles a quotient) work through the products and
// quotients one per step (about 300 cycles, once per layer); then each check's condition is
// registered and the first failing one picked a cycle later. `done` pulses when the outputs
// and the error are valid. Sizes saturate at 2^32 - 1 (never below a capacity).
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

    // ---- the derived sizes, one product or quotient per step ----
    reg  [31:0] hw, image, k, tp, ho, wo, g, p_lut, p_dsp, np, st, bank_need, bimage, act_need,
                t1, t2, hwo, t3, t4;
    reg  [5:0]  step;
    reg         busy;
    // sums of descriptor fields get registers of their own, kept up to date every cycle (the
    // descriptor is held from start on, and the first of them is read a dozen cycles later): no
    // adder between the descriptor and a step's operands or a check's compare
    wire [31:0] pix = lin ? k : {16'd0, c};
    reg  [16:0] span_h, span_w;
    // (k, a step's product, is settled long before step 12 reads k_half)
    reg  [31:0] slots_up, sp2_up, rows_sum;      // the dividends of steps 6 and 7 (rounding up)
    reg  [31:0] k_half, rows_4;                  // step 12's operands
    reg  [31:0] pix_up;                          // step 6's groups, rounded up (k is step 3's)
    always @(posedge clk) begin
        span_h <= h + pt + pb; span_w <= w + pl + pr;
        slots_up <= n_f4 + n_f4[0] + 2 * n_f8 + DSP_ROWS - 1; sp2_up <= n_sp2 + LUT_ROWS - 1;
        rows_4 <= n_sp2 + n_f4; rows_sum <= n_sp2 + n_f4 + n_f8; k_half <= (k + 1) >> 1;
        pix_up <= pix + VW - 1;
    end
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
            12: begin ma = rows_4; mb = k_half; end
            13: begin ma = n_f8; mb = k; end
            14: begin ma = ho; mb = wo; end
            15: begin ma = hwo; mb = chan_out; end
            default: begin ma = t3; mb = batch; end
        endcase
    end
    // the multiplier (several cycles a product, see msp_seq_mul) and the divider: quotients
    // rounded down (the steps round up by adding den - 1 first); one of them works at a time
    reg         mstart, waiting, fin1, fin2;
    wire [31:0] prod;
    wire        mdone;
    msp_seq_mul multiplier (.clk(clk), .rst(rst), .start(mstart), .a(ma), .b(mb), .p(prod), .done(mdone));
    reg  [31:0] dnum;
    reg  [15:0] dden;
    reg         dstart;
    wire [31:0] dq;
    wire        ddone;
    msp_divider divider (.clk(clk), .rst(rst), .start(dstart), .num(dnum), .den(dden), .q(dq), .done(ddone));
    wire is_div = step >= 6'd4 && step <= 6'd7;

    // each step: issue its product or quotient, wait for it, store it
    always @(posedge clk) begin
        dstart <= 1'b0; mstart <= 1'b0; fin1 <= 1'b0;
        if (rst) begin
            busy <= 1'b0; waiting <= 1'b0;
        end else if (start) begin
            busy <= 1'b1; step <= 0; waiting <= 1'b0;
        end else if (busy && !waiting) begin
            waiting <= 1'b1;
            if (!is_div) mstart <= 1'b1;            // ma, mb: the step's operands
            else begin
                dstart <= 1'b1;
                case (step)
                    4: begin dnum <= span_h - kh; dden <= sh; end
                    5: begin dnum <= span_w - kw; dden <= sw; end
                    6: begin
                        g <= pix_up >> VB;
                        dnum <= sp2_up; dden <= (LUT_ROWS == 0) ? 16'd1 : LUT_ROWS;
                    end
                    default: begin dnum <= slots_up; dden <= DSP_ROWS; end
                endcase
            end
        end else if (busy && (is_div ? ddone : mdone)) begin
            waiting <= 1'b0; step <= step + 1'b1;
            case (step)
                0: hw <= prod;
                1: image <= prod;
                2: tp <= prod;
                3: k <= conv ? prod : image;
                4: ho <= dq + 1;
                5: wo <= dq + 1;
                6: p_lut <= dq;
                7: p_dsp <= dq;
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
                default: begin t4 <= prod; busy <= 1'b0; fin1 <= 1'b1; end
            endcase
        end
    end

    // ---- the checks, in the contract's order, on the derived values ----
    // Two more cycles after the last step: each check's condition into a register of its own,
    // then the first failing one (by the contract's order) with its ERROR_INFO; `done` with it.
    localparam integer NC = 18;
    reg [NC-1:0] fail;               // fail[0] is checked first
    always @(posedge clk) begin
        fin2 <= fin1;
        done <= fin2 && !rst;
        if (fin1) begin
            fail[0]  <= !`MSP_OP_LEGAL(op);
            fail[1]  <= batch == 0;
            fail[2]  <= h == 0;
            fail[3]  <= w == 0;
            fail[4]  <= c == 0;
            fail[5]  <= weighted && oc == 0;
            fail[6]  <= windowed && (kh == 0 || kw == 0);
            fail[7]  <= windowed && (sh == 0 || sw == 0);
            fail[8]  <= maxp && ((pt > kh / 2) || (pb > kh / 2) || (pl > kw / 2) || (pr > kw / 2));
            fail[9]  <= windowed && (kh > span_h || kw > span_w);
            fail[10] <= !legal(t_in) || (add && !legal(t_b)) || ((add || gap || (weighted && !raw)) && !legal(t_out))
                        || (raw && !weighted);
            fail[11] <= weighted && rows_sum != {16'd0, oc};
            fail[12] <= weighted && k > `MSP_MAX_K;
            fail[13] <= (add || gap) && shift > `MSP_SHIFT_MAX;
            // buffers: rows staging and weight banks first, then channels staging, then activations
            fail[14] <= weighted && (oc > MAX_ROWS || (LUT_ROWS == 0 && n_sp2 != 0));
            fail[15] <= weighted && bank_need > BANK_WORDS;
            fail[16] <= (maxp || gap) && c > MAX_ROWS;
            fail[17] <= act_need > ACT_WORDS;
            // the derived sizes, registered for the datapath
            pkt0 <= weighted ? {13'd0, oc, 3'd0} : bimage;
            pkt1 <= weighted ? t1 + t2 : (add ? bimage : 32'd0);
            pkt2 <= weighted ? bimage : 32'd0;
            out_bytes <= raw ? t4 << 2 : t4;
            win_h <= lin ? 16'd1 : h;   win_w <= lin ? 16'd1 : w;
            win_kh <= gap ? h : (conv | maxp) ? {8'd0, kh} : 16'd1;
            win_kw <= gap ? w : (conv | maxp) ? {8'd0, kw} : 16'd1;
            out_h <= windowed ? ho[15:0] : (add ? h : 16'd1);
            out_w <= windowed ? wo[15:0] : (add ? w : 16'd1);
            passes <= np[15:0];
            out_ch <= chan_out[15:0];
            groups <= g[11:0];
            taps <= conv ? tp[15:0] : 16'd1;
            chans <= add ? VW : pix;
            img_bytes <= add ? bimage : image;
            steps <= st[15:0];
        end
        if (fin2) begin
            err_code <= `MSP_ERR_NONE; err_info <= 32'd0;
            if (fail[0])       begin err_code <= E_OP; err_info <= op; end
            else if (fail[1])  begin err_code <= E_DESC; err_info <= `MSP_REG_BATCH; end
            else if (fail[2])  begin err_code <= E_DESC; err_info <= `MSP_REG_IN_H; end
            else if (fail[3])  begin err_code <= E_DESC; err_info <= `MSP_REG_IN_W; end
            else if (fail[4])  begin err_code <= E_DESC; err_info <= `MSP_REG_IN_C; end
            else if (fail[5])  begin err_code <= E_DESC; err_info <= `MSP_REG_OUT_C; end
            else if (fail[6])  begin err_code <= E_DESC; err_info <= `MSP_REG_KERNEL; end
            else if (fail[7])  begin err_code <= E_DESC; err_info <= `MSP_REG_STRIDE; end
            else if (fail[8])  begin err_code <= E_DESC; err_info <= `MSP_REG_PADDING; end
            else if (fail[9])  begin err_code <= E_DESC; err_info <= `MSP_REG_KERNEL; end
            else if (fail[10]) begin err_code <= E_DESC; err_info <= `MSP_REG_ACT_TYPES; end
            else if (fail[11]) begin err_code <= E_DESC; err_info <= `MSP_REG_ROWS_SP2; end
            else if (fail[12]) begin err_code <= E_DESC; err_info <= conv ? `MSP_REG_KERNEL : `MSP_REG_IN_C; end
            else if (fail[13]) begin err_code <= E_DESC; err_info <= `MSP_REG_SHIFT; end
            else if (fail[14]) begin err_code <= E_BUF; err_info <= `MSP_INFO_WEIGHT_BUFFER | `MSP_INFO_STAGING | oc; end
            else if (fail[15]) begin err_code <= E_BUF; err_info <= `MSP_INFO_WEIGHT_BUFFER | bank_need; end
            else if (fail[16]) begin err_code <= E_BUF; err_info <= `MSP_INFO_STAGING | c; end
            else if (fail[17]) begin err_code <= E_BUF; err_info <= act_need << VB; end
        end
    end
endmodule

// msp_seq_mul: p = min(a * b, 2^32 - 1) for unsigned 32-bit a and b, in about a dozen cycles: the
// four 16x16 partial products go one per cycle through one multiplier whose operands, product
// and output are registered (a DSP slice's A/B, M and P registers), and are summed into a
// 64-bit accumulator. The layer checks need a dozen products once per layer, so a one-cycle
// 32x32 multiply (two cascaded DSPs and a wide add in one clock) is not worth its timing.
module msp_seq_mul (
    input  wire        clk,
    input  wire        rst,
    input  wire        start,
    input  wire [31:0] a,
    input  wire [31:0] b,
    output reg  [31:0] p,
    output reg         done
);
    reg [31:0] ar, br;
    reg [2:0]  issue;                         // the partial product issued next; 4: none
    reg [15:0] x, y;
    reg [31:0] m, pr;
    reg [1:0]  s1, s2, s3;                    // the partial's weight: 2^(16 * s)
    reg        v1, v2, v3, last;
    reg [1:0]  got;
    // the 64-bit sum in two 32-bit halves a cycle apart (the low half's carry registered): no
    // 64-bit carry chain in one cycle; the partial, shifted into place, is registered first
    reg [31:0] add_lo, add_hi, hi_pend, acc_lo, acc_hi;
    reg        va, vb, c_lo;
    always @(posedge clk) begin
        done <= 1'b0; v1 <= 1'b0; last <= 1'b0;
        m <= x * y; pr <= m;
        s2 <= s1; s3 <= s2; v2 <= v1; v3 <= v2; va <= v3; vb <= va;
        {add_hi, add_lo} <= s3 == 2'd0 ? {32'd0, pr} : s3 == 2'd1 ? {16'd0, pr, 16'd0} : {pr, 32'd0};
        if (rst) begin
            issue <= 3'd4; v2 <= 1'b0; v3 <= 1'b0; va <= 1'b0; vb <= 1'b0;
        end else if (start) begin
            ar <= a; br <= b; issue <= 3'd0; acc_lo <= 32'd0; acc_hi <= 32'd0; c_lo <= 1'b0; got <= 2'd0;
        end else begin
            if (!issue[2]) begin
                x <= issue[1] ? ar[31:16] : ar[15:0];
                y <= issue[0] ? br[31:16] : br[15:0];
                s1 <= {1'b0, issue[1]} + {1'b0, issue[0]};
                v1 <= 1'b1; issue <= issue + 1'b1;
            end
            c_lo <= 1'b0;
            if (va) begin {c_lo, acc_lo} <= {1'b0, acc_lo} + {1'b0, add_lo}; hi_pend <= add_hi; end
            if (vb) begin
                acc_hi <= acc_hi + hi_pend + {31'd0, c_lo};
                got <= got + 1'b1;
                last <= got == 2'd3;
            end
            if (last) begin
                p <= (acc_hi != 0) ? 32'hFFFFFFFF : acc_lo;
                done <= 1'b1;
            end
        end
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
