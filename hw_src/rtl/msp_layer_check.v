// msp_layer_check: validates a layer descriptor at START (docs/registers.md 6, in the documented
// order: UNSUPPORTED_OP, BAD_DESCRIPTOR, BUFFER_OVERFLOW) and derives what the datapath needs:
// output size, packet sizes, window geometry, passes and buffer use. Combinational; the engine
// registers its outputs one cycle after latching the descriptor.
`default_nettype none
module msp_layer_check #(
    parameter integer VW         = 16,
    parameter integer LUT_ROWS   = 41,
    parameter integer DSP_ROWS   = 24,
    parameter integer ACT_WORDS  = 8192,        // activation buffer words of VW bytes
    parameter integer BANK_WORDS = 126,         // words of each row unit's weight bank
    parameter integer MAX_ROWS   = 1024         // rows (conv2d/linear) or channels (pools) per position
) (
    input  wire [511:0] desc,
    output reg  [3:0]   err_code,
    output reg  [31:0]  err_info,
    // derived
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
    localparam [3:0] E_DESC = 4'd1, E_OP = 4'd3, E_BUF = 4'd4;
    wire [15:0] batch = desc[32*1 +: 16], h = desc[32*2 +: 16], w = desc[32*3 +: 16], c = desc[32*4 +: 16];
    wire [15:0] oc = desc[32*5 +: 16];
    wire [7:0]  kh = desc[32*6 +: 8], kw = desc[32*6 + 8 +: 8], sh = desc[32*7 +: 8], sw = desc[32*7 + 8 +: 8];
    wire [7:0]  pt = desc[32*8 +: 8], pl = desc[32*8 + 8 +: 8], pb = desc[32*8 + 16 +: 8], pr = desc[32*8 + 24 +: 8];
    wire [7:0]  t_in = desc[32*9 +: 8], t_b = desc[32*9 + 8 +: 8], t_out = desc[32*9 + 16 +: 8];
    wire        raw = desc[32*9 + 24];
    wire [15:0] n_sp2 = desc[32*10 +: 16], n_f4 = desc[32*11 +: 16], n_f8 = desc[32*12 +: 16];
    wire [5:0]  shift = desc[32*15 +: 6];
    assign op = desc[3:0];

    wire conv = op == 4'd1, lin = op == 4'd2, add = op == 4'd3, maxp = op == 4'd4, gap = op == 4'd5;
    wire weighted = conv | lin, windowed = conv | maxp;
    function legal(input [7:0] t);
        legal = t == 8'h04 || t == 8'h05 || t == 8'h08 || t == 8'h88;
    endfunction

    wire [31:0] hw = h * w;
    wire [31:0] image = hw * c;
    wire [31:0] k = conv ? kh * kw * c : image;
    wire [16:0] span_h = h + pt + pb, span_w = w + pl + pr;
    wire [15:0] ho = windowed ? (sh == 0 ? 16'd0 : (span_h - kh) / sh + 1) : (add ? h : 16'd1);
    wire [15:0] wo = windowed ? (sw == 0 ? 16'd0 : (span_w - kw) / sw + 1) : (add ? w : 16'd1);
    wire [31:0] pix = lin ? k : {16'd0, c};
    wire [31:0] g = (pix + VW - 1) / VW;
    wire [31:0] slots = n_f4 + n_f4[0] + 2 * n_f8;
    wire [31:0] p_lut = (LUT_ROWS == 0) ? 0 : (n_sp2 + LUT_ROWS - 1) / (LUT_ROWS == 0 ? 1 : LUT_ROWS);
    wire [31:0] p_dsp = (slots + DSP_ROWS - 1) / DSP_ROWS;
    wire [31:0] np = weighted ? (p_lut > p_dsp ? p_lut : p_dsp) : g;
    wire [31:0] st = conv ? kh * kw * g : g;
    wire [31:0] bank_need = np * st;
    wire [31:0] act_need = add ? (batch * image + VW - 1) / VW : (lin ? g : hw * g);
    wire [31:0] chan_out = weighted ? oc : c;
    wire [31:0] half_k = (k + 1) >> 1;

    always @* begin
        err_code = 4'd0; err_info = 32'd0;
        if (op < 4'd1 || op > 4'd5) begin err_code = E_OP; err_info = op; end
        else if (batch == 0) begin err_code = E_DESC; err_info = 32'h104; end
        else if (h == 0)     begin err_code = E_DESC; err_info = 32'h108; end
        else if (w == 0)     begin err_code = E_DESC; err_info = 32'h10C; end
        else if (c == 0)     begin err_code = E_DESC; err_info = 32'h110; end
        else if (weighted && oc == 0) begin err_code = E_DESC; err_info = 32'h114; end
        else if (windowed && (kh == 0 || kw == 0)) begin err_code = E_DESC; err_info = 32'h118; end
        else if (windowed && (sh == 0 || sw == 0)) begin err_code = E_DESC; err_info = 32'h11C; end
        else if (maxp && ((pt > kh / 2) || (pb > kh / 2) || (pl > kw / 2) || (pr > kw / 2)))
            begin err_code = E_DESC; err_info = 32'h120; end
        else if (windowed && (kh > span_h || kw > span_w)) begin err_code = E_DESC; err_info = 32'h118; end
        else if (!legal(t_in) || (add && !legal(t_b)) || ((add || gap || (weighted && !raw)) && !legal(t_out))
                 || (raw && !weighted)) begin err_code = E_DESC; err_info = 32'h124; end
        else if (weighted && n_sp2 + n_f4 + n_f8 != oc) begin err_code = E_DESC; err_info = 32'h128; end
        else if (weighted && k > 32768) begin err_code = E_DESC; err_info = conv ? 32'h118 : 32'h110; end
        else if ((add || gap) && shift > 6'd47) begin err_code = E_DESC; err_info = 32'h13C; end
        // buffers: the weight banks and the row/channel staging first, then the activations
        else if (weighted && (oc > MAX_ROWS || (LUT_ROWS == 0 && n_sp2 != 0)))
            begin err_code = E_BUF; err_info = 32'hC000_0000 | oc; end
        else if (weighted && bank_need > BANK_WORDS) begin err_code = E_BUF; err_info = 32'h8000_0000 | bank_need; end
        else if ((maxp || gap) && c > MAX_ROWS) begin err_code = E_BUF; err_info = 32'h4000_0000 | c; end
        else if (act_need > ACT_WORDS) begin err_code = E_BUF; err_info = act_need * VW; end
    end

    always @* begin
        pkt0 = weighted ? 8 * oc : batch * image;
        pkt1 = weighted ? (n_sp2 + n_f4) * half_k + n_f8 * k : (add ? batch * image : 32'd0);
        pkt2 = weighted ? batch * image : 32'd0;
        out_bytes = batch * ho * wo * chan_out * (raw ? 4 : 1);
        win_h = lin ? 16'd1 : h;   win_w = lin ? 16'd1 : w;
        win_kh = gap ? h : (conv | maxp) ? {8'd0, kh} : 16'd1;
        win_kw = gap ? w : (conv | maxp) ? {8'd0, kw} : 16'd1;
        out_h = ho; out_w = wo;
        passes = np[15:0];
        out_ch = chan_out[15:0];
        groups = g[11:0];
        taps = conv ? kh * kw : 16'd1;
        chans = add ? VW : pix;
        img_bytes = add ? batch * image : image;
        steps = st[15:0];
    end
endmodule
`default_nettype wire
