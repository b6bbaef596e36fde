// msp_engine: the MSP engine (docs/registers.md: one layer per START, streams in and out through
// the AXI DMA; docs/numerics.md: the arithmetic, bit for bit). docs/design/engine.md has the plan.
//
//   S_AXIS ─► msp_stream_rx ─► beat FIFO ─┬─► row parameters (msp_output_stage's RAM)
//                                         ├─► msp_weight_loader ─► weight banks (one per row unit)
//                                         ├─► msp_act_writer ─► activation buffer ─► msp_window_gen
//                                         └─► msp_add_unit (input b; input a from the buffer)
//   window steps ─► msp_mac_array (LUT + DSP rows) or msp_pool_unit ─► msp_output_stage ─┐
//   msp_add_unit ─────────────────────────────────────────────────────────────────────────┴► msp_stream_tx ─► M_AXIS
//
// Generics are the board profile's geometry (msp_pynq/boards/profiles.py); the weight banks
// share WGT_BUF_KIB between the LUT_ROWS + DSP_ROWS row units.
`include "msp_contract.vh"
`default_nettype none
module msp_engine #(
    parameter integer VECTOR_WIDTH = 16,
    parameter integer LUT_ROWS     = 23,
    parameter integer DSP_ROWS     = 24,
    parameter integer ACT_BUF_KIB  = 128,
    parameter integer WGT_BUF_KIB  = 188,
    parameter [31:0]  FINGERPRINT  = 32'h7710D645,
    parameter [31:0]  CLOCK_KHZ    = 125000
) (
    input  wire        aclk,
    input  wire        aresetn,
    input  wire [11:0] s_axi_awaddr,
    input  wire        s_axi_awvalid,
    output wire        s_axi_awready,
    input  wire [31:0] s_axi_wdata,
    input  wire [3:0]  s_axi_wstrb,
    input  wire        s_axi_wvalid,
    output wire        s_axi_wready,
    output wire [1:0]  s_axi_bresp,
    output wire        s_axi_bvalid,
    input  wire        s_axi_bready,
    input  wire [11:0] s_axi_araddr,
    input  wire        s_axi_arvalid,
    output wire        s_axi_arready,
    output wire [31:0] s_axi_rdata,
    output wire [1:0]  s_axi_rresp,
    output wire        s_axi_rvalid,
    input  wire        s_axi_rready,
    input  wire [63:0] s_axis_tdata,
    input  wire [7:0]  s_axis_tkeep,
    input  wire        s_axis_tlast,
    input  wire        s_axis_tvalid,
    output wire        s_axis_tready,
    output wire [63:0] m_axis_tdata,
    output wire [7:0]  m_axis_tkeep,
    output wire        m_axis_tlast,
    output wire        m_axis_tvalid,
    input  wire        m_axis_tready,
    output wire        irq
);
    localparam integer VW = VECTOR_WIDTH, U = LUT_ROWS + DSP_ROWS;
    localparam integer ACT_WORDS = ACT_BUF_KIB * 1024 / VW;
    localparam integer BANK_WORDS = WGT_BUF_KIB * 1024 / (U * VW / 2);
    localparam integer MAX_ROWS = `MSP_MAX_ROWS;
    localparam integer AW = $clog2(ACT_WORDS), BW = $clog2(BANK_WORDS + 1), RB = $clog2(MAX_ROWS);
    localparam [3:0] OP_CONV = `MSP_OP_CONV2D, OP_LINEAR = `MSP_OP_LINEAR, OP_ADD = `MSP_OP_ADD,
                     OP_MAX = `MSP_OP_MAX_POOL, OP_GAP = `MSP_OP_GLOBAL_AVG_POOL;
    localparam [1:0] S_IDLE = 2'd0, S_CHECK = 2'd1, S_RUN = 2'd2, S_FAIL = 2'd3;

    // ---------------- registers ----------------
    wire         start, soft_reset;
    wire [511:0] desc;
    reg          done_set, error_set;
    reg  [3:0]   e_code, e_packet, packets;
    reg  [31:0]  e_info;
    reg  [63:0]  cycles;
    reg  [1:0]   state;
    msp_regs #(.VECTOR_WIDTH(VW), .LUT_ROWS(LUT_ROWS), .DSP_ROWS(DSP_ROWS), .ACT_BUF_KIB(ACT_BUF_KIB),
               .WGT_BUF_KIB(WGT_BUF_KIB), .FINGERPRINT(FINGERPRINT), .CLOCK_KHZ(CLOCK_KHZ)) regs (
        .aclk(aclk), .aresetn(aresetn),
        .s_axi_awaddr(s_axi_awaddr), .s_axi_awvalid(s_axi_awvalid), .s_axi_awready(s_axi_awready),
        .s_axi_wdata(s_axi_wdata), .s_axi_wstrb(s_axi_wstrb), .s_axi_wvalid(s_axi_wvalid), .s_axi_wready(s_axi_wready),
        .s_axi_bresp(s_axi_bresp), .s_axi_bvalid(s_axi_bvalid), .s_axi_bready(s_axi_bready),
        .s_axi_araddr(s_axi_araddr), .s_axi_arvalid(s_axi_arvalid), .s_axi_arready(s_axi_arready),
        .s_axi_rdata(s_axi_rdata), .s_axi_rresp(s_axi_rresp), .s_axi_rvalid(s_axi_rvalid), .s_axi_rready(s_axi_rready),
        .start(start), .soft_reset(soft_reset), .desc(desc), .irq(irq),
        .busy(state == S_RUN || state == S_CHECK), .done_set(done_set), .error_set(error_set),
        .error_code(e_code), .error_packet(e_packet), .error_info(e_info), .packets(packets), .cycles(cycles));

    wire rst = !aresetn || soft_reset;           // the soft reset returns every block to idle

    // ---------------- descriptor ----------------
    reg  [511:0] d;
    wire [3:0]   chk_code;
    wire [31:0]  chk_info, pkt0, pkt1, pkt2, out_bytes, chans, img_bytes;
    wire [15:0]  win_h, win_w, win_kh, win_kw, out_h, out_w, passes, out_ch, taps, steps;
    wire [11:0]  groups;
    wire [3:0]   op;
    reg          chk_start;
    wire         chk_done;
    msp_layer_check #(.VW(VW), .LUT_ROWS(LUT_ROWS), .DSP_ROWS(DSP_ROWS), .ACT_WORDS(ACT_WORDS),
                      .BANK_WORDS(BANK_WORDS), .MAX_ROWS(MAX_ROWS)) check (
        .clk(aclk), .rst(!aresetn || soft_reset), .start(chk_start), .done(chk_done),
        .desc(d), .err_code(chk_code), .err_info(chk_info), .op(op), .pkt0(pkt0), .pkt1(pkt1), .pkt2(pkt2),
        .out_bytes(out_bytes), .win_h(win_h), .win_w(win_w), .win_kh(win_kh), .win_kw(win_kw),
        .out_h(out_h), .out_w(out_w), .passes(passes), .out_ch(out_ch), .groups(groups), .taps(taps),
        .chans(chans), .img_bytes(img_bytes), .steps(steps));
    wire [15:0] batch = d[`MSP_FIELD_BATCH_BIT +: `MSP_FIELD_BATCH_WIDTH];
    wire [15:0] in_c = d[`MSP_FIELD_IN_C_BIT +: `MSP_FIELD_IN_C_WIDTH];
    wire [7:0]  t_in = d[`MSP_FIELD_IN_TYPE_BIT +: `MSP_FIELD_IN_TYPE_WIDTH];
    wire [7:0]  t_b = d[`MSP_FIELD_IN_B_TYPE_BIT +: `MSP_FIELD_IN_B_TYPE_WIDTH];
    wire [7:0]  t_out = d[`MSP_FIELD_OUT_TYPE_BIT +: `MSP_FIELD_OUT_TYPE_WIDTH];
    wire        raw = d[`MSP_FIELD_RAW_OUT_BIT];
    wire [15:0] n_sp2 = d[`MSP_FIELD_ROWS_SP2_BIT +: `MSP_FIELD_ROWS_SP2_WIDTH];
    wire [15:0] n_f4 = d[`MSP_FIELD_ROWS_FIXED4_BIT +: `MSP_FIELD_ROWS_FIXED4_WIDTH];
    wire [15:0] n_f8 = d[`MSP_FIELD_ROWS_FIXED8_BIT +: `MSP_FIELD_ROWS_FIXED8_WIDTH];
    wire [15:0] mult_a = d[`MSP_FIELD_MULT_A_BIT +: `MSP_FIELD_MULT_A_WIDTH];
    wire [15:0] mult_b = d[`MSP_FIELD_MULT_B_BIT +: `MSP_FIELD_MULT_B_WIDTH];
    wire [5:0]  shift = d[`MSP_FIELD_SHIFT_BIT +: `MSP_FIELD_SHIFT_WIDTH];
    wire [7:0]  sh = d[`MSP_FIELD_SH_BIT +: `MSP_FIELD_SH_WIDTH], sw = d[`MSP_FIELD_SW_BIT +: `MSP_FIELD_SW_WIDTH];
    wire [7:0]  pad_top = d[`MSP_FIELD_PAD_TOP_BIT +: `MSP_FIELD_PAD_TOP_WIDTH];
    wire [7:0]  pad_left = d[`MSP_FIELD_PAD_LEFT_BIT +: `MSP_FIELD_PAD_LEFT_WIDTH];
    wire        weighted = op == OP_CONV || op == OP_LINEAR, pooling = op == OP_MAX || op == OP_GAP;
    // a type byte's sign and bits
    function is_signed(input [7:0] t);
        is_signed = t[`MSP_ACT_SIGNED_BIT];
    endfunction
    function [3:0] type_bits(input [7:0] t);
        type_bits = t[`MSP_ACT_BITS_LSB +: `MSP_ACT_BITS_WIDTH];
    endfunction
    function [7:0] max_byte(input [7:0] t);      // the largest legal byte of an input type
        max_byte = (t == `MSP_ACT_U4) ? 8'd15 : (t == `MSP_ACT_U5) ? 8'd31 : 8'd255;
    endfunction
    // registered from the descriptor (held from START on): the range checks' compares start at a register
    reg  [7:0] max_in, max_b;
    always @(posedge aclk) begin max_in <= max_byte(t_in); max_b <= max_byte(t_b); end

    // ---------------- layer control ----------------
    reg        run_start;                        // one cycle: the submodules latch the layer
    reg  [1:0] rx_pkt;                           // the packet the receiver expects next
    reg        rx_armed;
    reg  [2:0] len_ok;                           // packets received at their expected length
    reg  [15:0] images_left;
    reg        computing, acc_full, prm_done;
    reg  [RB-1:0] prm_row;
    reg        prm_bad;
    reg        pc_v;                             // a row's check, a cycle after its beat:
    reg  [2:0] pc_bad;                           // its conditions apart (scheme, bias, shift), ORed next
    reg  [RB-1:0] pc_row;
    reg  [31:0] prm_bad_row;
    wire [2:0] npkts = weighted ? 3'd3 : (op == OP_ADD ? 3'd2 : 3'd1);
    wire [31:0] pkt_len = (rx_pkt == 2'd0) ? pkt0 : (rx_pkt == 2'd1) ? pkt1 : pkt2;

    // receiver and beat FIFO (beats tagged with their packet)
    wire        rx_tready, rx_done, rx_len_error, rx_wr_en;
    wire [31:0] rx_got, rx_wr_addr;
    wire [63:0] rx_wr_data;
    wire [7:0]  rx_wr_keep;
    wire [3:0]  rx_wr_nbytes;
    reg  [3:0]  fifo_t;                          // entries held, as a thermometer code (bit i: more than i;
                                                 // a count's carry chain sat behind the consumers' pop)
    reg         rx_hold;
    wire        sink = state == S_FAIL;          // after an error every beat is accepted and dropped
    assign s_axis_tready = sink ? 1'b1 : rx_tready;
    msp_stream_rx rx (.aclk(aclk), .aresetn(aresetn && !sink), .flush(soft_reset),
        .hold(rx_hold),
        .s_axis_tdata(s_axis_tdata), .s_axis_tkeep(s_axis_tkeep), .s_axis_tlast(s_axis_tlast),
        .s_axis_tvalid(s_axis_tvalid && !sink), .s_axis_tready(rx_tready),
        .arm(state == S_RUN && !rx_armed && rx_pkt < npkts), .expect_bytes(pkt_len),
        .done(rx_done), .len_error(rx_len_error), .got_bytes(rx_got),
        .wr_en(rx_wr_en), .wr_addr(rx_wr_addr), .wr_data(rx_wr_data), .wr_keep(rx_wr_keep),
        .wr_nbytes(rx_wr_nbytes));
    // The beat FIFO: four LUT-RAM entries behind a head register. The head holds the beat with
    // its byte count and its consumer decoded when it was loaded, so the consumers' decisions
    // start at registers (a LUT-RAM read and a TKEEP count on the way cost about 3 ns).
    reg  [1:0]  tag_in;                          // packet of the beats the receiver writes now
    reg  [77:0] fifo [0:3];
    reg  [1:0]  f_rd, f_wr;
    wire [77:0] f_out = fifo[f_rd];
    wire [77:0] f_in  = {rx_wr_nbytes, tag_in, rx_wr_keep, rx_wr_data};
    reg         hv;                              // the head holds a beat
    reg  [63:0] h_data;
    reg  [7:0]  h_keep;
    reg  [3:0]  h_nbytes;
    reg         h_prm, h_wl, h_act, h_add;       // its consumer
    wire        pop;
    wire        load = !hv || pop;
    wire        from_fifo = load && fifo_t[0];
    wire        bypass = load && !fifo_t[0] && rx_wr_en;   // straight into the empty head
    wire        push = rx_wr_en && !bypass;                 // a beat into the FIFO's entries
    function [3:0] consumer(input [1:0] tag);    // {prm, wl, act, add}
        consumer = {weighted && tag == 2'd0, weighted && tag == 2'd1,
                    tag == (weighted ? 2'd2 : 2'd0), op == OP_ADD && tag == 2'd1};
    endfunction

    // ---------------- consumers ----------------
    wire to_prm = hv && h_prm;
    wire to_wl  = hv && h_wl;
    wire to_act = hv && h_act;
    wire to_add = hv && h_add;

    wire              wl_ready, wl_wr_en, wl_pair, wl_done, wl_bad;
    reg               wl_start;                  // run_start of a conv/linear layer (a register: the
                                                 // loader's start meets its carry chains)
    wire [15:0]       wl_unit, wl_bad_row;
    wire [BW-1:0]     wl_addr;
    wire [4*VW-1:0]   wl_lo, wl_hi;
    msp_weight_loader #(.VW(VW), .LUT_ROWS(LUT_ROWS), .DSP_ROWS(DSP_ROWS), .AW(BW)) wl (
        .clk(aclk), .rst(rst), .start(wl_start), .taps(taps), .chans(chans[15:0]), .groups(groups),
        .steps(steps[BW-1:0]), .n_sp2(n_sp2), .n_f4(n_f4), .n_f8(n_f8),
        .in_valid(to_wl), .in_data(h_data), .in_keep(h_keep), .in_nbytes(h_nbytes), .in_ready(wl_ready),
        .wr_en(wl_wr_en), .wr_unit(wl_unit), .wr_addr(wl_addr), .wr_lo(wl_lo), .wr_hi(wl_hi), .wr_pair(wl_pair),
        .done(wl_done), .bad(wl_bad), .bad_row(wl_bad_row));

    reg               img_resume;
    wire              actw_ready, actw_wr_en, img_done, actw_bad;
    wire [AW-1:0]     actw_addr;
    wire [8*VW-1:0]   actw_data;
    wire [VW-1:0]     actw_be;
    wire [31:0]       actw_bad_index;
    msp_act_writer #(.VW(VW), .AW(AW)) actw (
        .clk(aclk), .rst(rst), .start(run_start), .pix_bytes(chans), .img_bytes(img_bytes),
        .max_byte(max_in), .resume(img_resume),
        .in_valid(to_act), .in_data(h_data), .in_keep(h_keep), .in_nbytes(h_nbytes), .in_ready(actw_ready),
        .wr_en(actw_wr_en), .wr_addr(actw_addr), .wr_data(actw_data), .wr_be(actw_be),
        .img_done(img_done), .bad(actw_bad), .bad_index(actw_bad_index));

    wire              add_ready, add_rd_en, add_valid;
    wire [AW-1:0]     add_rd_addr;
    wire [63:0]       add_data;
    wire [3:0]        add_nbytes;
    wire              tx_ready;
    reg  [8*VW-1:0]   act_q;
    msp_add_unit #(.VW(VW), .AW(AW)) adder (
        .clk(aclk), .rst(rst), .start(run_start), .mult_a(mult_a), .mult_b(mult_b), .shift(shift),
        .a_signed(is_signed(t_in)), .b_signed(is_signed(t_b)),
        .out_signed(is_signed(t_out)), .out_bits(type_bits(t_out)),
        .in_valid(to_add && img_done), .in_data(h_data), .in_keep(h_keep), .in_ready(add_ready),
        .rd_en(add_rd_en), .rd_addr(add_rd_addr), .rd_q(act_q),
        .out_valid(add_valid), .out_data(add_data), .out_nbytes(add_nbytes), .out_ready(tx_ready && op == OP_ADD));

    assign pop = (to_prm) || (to_wl && wl_ready) || (to_act && actw_ready) || (to_add && img_done && add_ready);

    always @(posedge aclk) begin
        if (rst || run_start) begin
            fifo_t <= 0; f_rd <= 0; f_wr <= 0; hv <= 1'b0; rx_hold <= 1'b0;
        end else begin
            if (push) begin fifo[f_wr] <= f_in; f_wr <= f_wr + 1'b1; end
            if (from_fifo) f_rd <= f_rd + 1'b1;
            if (push && !from_fifo) fifo_t <= {fifo_t[2:0], 1'b1};
            else if (from_fifo && !push) fifo_t <= {1'b0, fifo_t[3:1]};
            // registered, and counting no pop (a bound, from registers only): a beat the receiver
            // takes while it is low lands a cycle later, so at most three entries are ever held
            rx_hold <= fifo_t[1] || (fifo_t[0] && rx_wr_en);
            if (load) begin
                hv <= from_fifo || bypass;
                {h_nbytes, h_data, h_keep} <= from_fifo ? {f_out[77:74], f_out[63:0], f_out[71:64]}
                                                       : {rx_wr_nbytes, rx_wr_data, rx_wr_keep};
                {h_prm, h_wl, h_act, h_add} <= consumer(from_fifo ? f_out[73:72] : tag_in);
            end
        end
    end

    // ---------------- buffers ----------------
    reg [8*VW-1:0] act_mem [0:ACT_WORDS-1];
    integer bi;
    // buffers start at zero: a window's padding channels meet zero weights, and 0 * X is X in simulation
    initial for (bi = 0; bi < ACT_WORDS; bi = bi + 1) act_mem[bi] = 0;
    always @(posedge aclk)
        if (actw_wr_en)
            for (bi = 0; bi < VW; bi = bi + 1)
                if (actw_be[bi]) act_mem[actw_addr][8*bi +: 8] <= actw_data[8*bi +: 8];

    // window former
    wire              wg_next_first, wg_valid, wg_pad, wg_first, wg_last, wg_done;
    wire [AW-1:0]     wg_addr;
    wire [BW-1:0]     wg_waddr;
    wire [15:0]       wg_pass;
    reg               wg_start;
    wire              allow_first;
    msp_window_gen #(.ADDR_W(AW), .WADDR_W(BW)) wg (
        .clk(aclk), .rst(rst), .start(wg_start), .in_h(win_h), .in_w(win_w), .groups(groups),
        .kh(win_kh), .kw(win_kw), .sh(op == OP_GAP ? 8'd1 : sh), .sw(op == OP_GAP ? 8'd1 : sw),
        .pad_top(op == OP_GAP ? 8'd0 : pad_top), .pad_left(op == OP_GAP ? 8'd0 : pad_left),
        .out_h(out_h), .out_w(out_w), .passes(passes), .pool(pooling),
        .stall(wg_next_first && !allow_first), .next_first(wg_next_first),
        .valid(wg_valid), .addr(wg_addr), .waddr(wg_waddr), .pass(wg_pass), .pad(wg_pad),
        .first(wg_first), .last(wg_last), .done(wg_done));

    always @(posedge aclk)
        if (op == OP_ADD ? add_rd_en : 1'b1) act_q <= act_mem[op == OP_ADD ? add_rd_addr : wg_addr];

    // weight banks: one per row unit, all read at the window step's bank word. A loader write
    // lands a cycle late, through a registered per-bank decode (the unit compares and the data
    // fanout to every bank would not fit one cycle): the banks are first read at least the
    // window setup after the loader's done.
    wire [4*VW*U-1:0] codes;
    reg  [BW-1:0]     bw_addr;
    reg  [4*VW-1:0]   bw_lo, bw_hi;
    always @(posedge aclk) begin bw_addr <= wl_addr; bw_lo <= wl_lo; bw_hi <= wl_hi; end
    genvar u;
    generate
        for (u = 0; u < U; u = u + 1) begin : bank
            reg [4*VW-1:0] mem [0:BANK_WORDS-1];
            reg [4*VW-1:0] q;
            reg            we_lo, we_hi;         // this bank takes the word's low (high) half
            integer z;
            initial for (z = 0; z < BANK_WORDS; z = z + 1) mem[z] = 0;
            always @(posedge aclk) begin
                we_lo <= wl_wr_en && wl_unit == u;
                we_hi <= wl_wr_en && wl_pair && u > 0 && wl_unit == u - 1;
                if (we_lo || we_hi) mem[bw_addr] <= we_hi ? bw_hi : bw_lo;
                q <= mem[wg_waddr];
            end
            assign codes[4*VW*u +: 4*VW] = q;
        end
    endgenerate

    // ---------------- compute ----------------
    reg            v1, first1, last1, pad1;
    reg  [15:0]    pass1;
    always @(posedge aclk) begin
        v1 <= wg_valid && !rst; first1 <= wg_first; last1 <= wg_last; pad1 <= wg_pad; pass1 <= wg_pass;
    end
    wire signed_in = is_signed(t_in);
    wire [9*VW-1:0] a9;
    genvar l;
    generate
        for (l = 0; l < VW; l = l + 1) begin : lane
            assign a9[9*l +: 9] = pad1 ? 9'd0 : {signed_in & act_q[8*l + 7], act_q[8*l +: 8]};
        end
    endgenerate
    // fixed-8 pairs of this pass: global slot pass*DSP_ROWS + 2p at or past the fixed-4 slots.
    // pass * DSP_ROWS is counted, not multiplied (a pass follows pass - 1 or restarts at 0), and
    // each pair compares it with its own per-layer threshold f8_base - 2p.
    reg  [15:0] pbase1;                            // pass1 * DSP_ROWS
    always @(posedge aclk)
        pbase1 <= (wg_pass == 16'd0) ? 16'd0 : (wg_pass == pass1) ? pbase1 : pbase1 + DSP_ROWS;
    wire [15:0] f8_base = n_f4 + n_f4[0];
    wire [DSP_ROWS/2-1:0] fixed8;
    generate
        for (l = 0; l < DSP_ROWS / 2; l = l + 1) begin : pair
            reg signed [17:0] thr;
            always @(posedge aclk) thr <= $signed({2'b0, f8_base}) - 2 * l;
            assign fixed8[l] = $signed({2'b0, pbase1}) >= thr;
        end
    endgenerate
    wire [32*U-1:0] acc;
    wire            acc_valid;
    // (a DSP-only engine, LUT_ROWS = 0, gives the array's unused one-bit LUT code input a 0)
    wire [(LUT_ROWS > 0 ? 4*VW*LUT_ROWS : 1)-1:0] lut_codes;
    generate
        if (LUT_ROWS > 0) begin : with_lut
            assign lut_codes = codes[4*VW*LUT_ROWS-1:0];
        end else begin : dsp_only
            assign lut_codes = 1'b0;
        end
    endgenerate
    msp_mac_array #(.VW(VW), .LUT_ROWS(LUT_ROWS), .DSP_ROWS(DSP_ROWS)) array (
        .clk(aclk), .rst(rst || run_start), .valid(v1 && weighted), .clear(first1), .last(last1), .a(a9),
        .lut_codes(lut_codes), .dsp_codes(codes[4*VW*LUT_ROWS +: 4*VW*DSP_ROWS]),
        .dsp_fixed8(fixed8), .result_valid(acc_valid), .result(acc), .take(capture && weighted));
    wire [32*VW-1:0] pool_acc;      // (the engine needs LUT_ROWS + DSP_ROWS > VW units)
    msp_pool_unit #(.VW(VW)) pool (.clk(aclk), .valid(v1 && pooling), .first(first1), .pad(pad1),
        .is_max(op == OP_MAX), .in_signed(signed_in), .x(act_q), .acc(pool_acc));

    // A pass's result waits in its accumulators until the output stage takes it (capture).
    // Pools (one set of accumulators, two cycles after the window step): a new pass may start only
    // if the capture is certain to happen before the accumulators are cleared.
    // Conv/linear: the array alternates two accumulator banks, so pass p must be taken before
    // pass p + 2's first step reaches them, the array's LATENCY after it left the window former.
    // A pass is "open" from its first step until the output stage has drained it: in flight, in
    // a bank, held or in the drain (os_open). If pass p were still in its bank when pass p + 2
    // lands, the holding register and the drain would hold two earlier passes, so with p + 1 and
    // p + 2 five passes would be open: allowing a first step only while at most three are open
    // (four with it) keeps the banks safe whatever the output stage's pace, and lets the drain
    // lag the array by a pass as before.
    wire can_capture;
    wire [1:0] os_open;
    wire capture = (pooling ? acc_full : acc_valid) && can_capture;
    reg        v2, last2;                          // a pool step, as the pool unit registers it
    always @(posedge aclk) begin v2 <= v1 && pooling && !rst; last2 <= last1; end
    // The rule gates the window former's stall, which holds all its registers, so it is written
    // as gates over registered flags, with no sum or compare: the conv/linear passes begun and not
    // yet captured (w_open, 0 to 4) kept as "at most k" flags, the open count's other terms as
    // cases, the pool's in-flight count as none / one.
    reg  [3:0] w_le;                               // w_le[k]: w_open <= k
    wire       w_inc = wg_valid && wg_first && weighted, w_dec = capture && weighted;
    always @(posedge aclk)
        if (rst || run_start) w_le <= 4'b1111;
        else if (w_inc && !w_dec) w_le <= {w_le[2:0], 1'b0};
        else if (w_dec && !w_inc) w_le <= {1'b1, w_le[3:1]};
    // conv/linear: w_open + (a first step now) + os_open <= 3 (os_open is 0, 1 or 2)
    wire first_now = wg_valid && wg_first;
    wire conv_allow = os_open == 2'd0 ? (first_now ? w_le[2] : w_le[3])
                    : os_open == 2'd1 ? (first_now ? w_le[1] : w_le[2])
                    :                   (first_now ? w_le[0] : w_le[1]);
    // pools: no pass's last step in flight, or one and the holding register free for it
    wire fl_a = wg_valid && wg_last, fl_b = v1 && last1, fl_c = v2 && last2;
    wire fl_none = !fl_a && !fl_b && !fl_c;
    wire fl_one = (fl_a ^ fl_b ^ fl_c) && !(fl_a && fl_b && fl_c);
    assign allow_first = pooling ? !acc_full && (fl_none || (fl_one && can_capture)) : conv_allow;

    wire              os_valid;
    wire [63:0]       os_data;
    wire [3:0]        os_nbytes;
    msp_output_stage #(.VW(VW), .LUT_ROWS(LUT_ROWS), .DSP_ROWS(DSP_ROWS), .MAX_ROWS(MAX_ROWS)) os (
        .clk(aclk), .rst(rst), .start(run_start),
        .mode(op == OP_GAP ? 2'd2 : op == OP_MAX ? 2'd3 : raw ? 2'd1 : 2'd0),
        .out_ch(out_ch), .passes(passes), .n_sp2(n_sp2), .n_f4(n_f4), .n_f8(n_f8), .mult(mult_a), .shift(shift),
        .out_signed(op == OP_MAX ? is_signed(t_in) : is_signed(t_out)), .out_bits(type_bits(t_out)),
        .prm_we(to_prm), .prm_row(prm_row), .prm_data(h_data),
        .can_capture(can_capture), .capture(capture), .n_open(os_open),
        .acc({acc[32*U-1:32*VW], pooling ? pool_acc : acc[32*VW-1:0]}),   // pools use the first VW units
        .out_valid(os_valid), .out_data(os_data), .out_nbytes(os_nbytes), .out_ready(tx_ready && op != OP_ADD));

    wire tx_done;
    msp_stream_tx tx (.aclk(aclk), .aresetn(aresetn), .flush(soft_reset || state == S_FAIL),
        .start(run_start), .total_bytes(out_bytes),
        .in_valid(op == OP_ADD ? add_valid : os_valid),
        .in_data(op == OP_ADD ? add_data : os_data),
        .in_nbytes(op == OP_ADD ? add_nbytes : os_nbytes), .in_ready(tx_ready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tkeep(m_axis_tkeep), .m_axis_tlast(m_axis_tlast),
        .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready), .done(tx_done));

    // ---------------- sequencing, checks and status ----------------
    // the parameter packet's checks (BAD_DATA): scheme byte by position, |bias| <= 2^30, shift <= 47,
    // in two register stages (each row's conditions, then the first failing row)
    reg  [15:0] n_sp2_f4;                        // settled from the descriptor long before a row
    always @(posedge aclk) n_sp2_f4 <= n_sp2 + n_f4;
    wire [7:0]  want_scheme = (prm_row < n_sp2) ? `MSP_SCHEME_SP2_4
                            : (prm_row < n_sp2_f4) ? `MSP_SCHEME_FIXED4 : `MSP_SCHEME_FIXED8;
    wire signed [31:0] bias = h_data[`MSP_ROW_BIAS_LSB +: `MSP_ROW_BIAS_WIDTH];
    wire [7:0]  prm_scheme = h_data[`MSP_ROW_SCHEME_LSB +: `MSP_ROW_SCHEME_WIDTH];
    wire [7:0]  prm_shift = h_data[`MSP_ROW_SHIFT_LSB +: `MSP_ROW_SHIFT_WIDTH];
    wire [2:0] prm_bad_now = {prm_scheme != want_scheme, bias > `MSP_BIAS_MAX || bias < -`MSP_BIAS_MAX,
                              !raw && prm_shift > `MSP_SHIFT_MAX};
    // input b of add: the same range check as the activation writer's
    wire        b_bad;
    wire [31:0] b_bad_index;
    msp_range_check b_check (.clk(aclk), .clear(rst || run_start), .take(to_add && img_done && add_ready),
        .data(h_data), .keep(h_keep), .nbytes(h_nbytes), .max_byte(max_b), .bad(b_bad), .bad_index(b_bad_index));
    // BAD_DATA is raised once its packet has arrived at the right length (else STREAM_LENGTH wins)
    reg [3:0]  bad_pkt;
    reg [31:0] bad_info;
    reg        bad_now;
    always @* begin
        bad_now = 1'b1; bad_pkt = 0; bad_info = 0;
        if (weighted && prm_bad && len_ok[0])      begin bad_pkt = 0; bad_info = prm_bad_row; end
        else if (weighted && wl_bad && len_ok[1] && wl_done) begin bad_pkt = 1; bad_info = wl_bad_row; end
        else if (actw_bad && len_ok[weighted ? 2 : 0]) begin bad_pkt = weighted ? 2 : 0; bad_info = actw_bad_index; end
        else if (op == OP_ADD && b_bad && len_ok[1]) begin bad_pkt = 1; bad_info = b_bad_index; end
        else bad_now = 1'b0;
    end

    always @(posedge aclk) begin
        done_set <= 1'b0; error_set <= 1'b0; run_start <= 1'b0; wl_start <= 1'b0; wg_start <= 1'b0; img_resume <= 1'b0;
        chk_start <= 1'b0;
        if (!aresetn || soft_reset) begin
            state <= S_IDLE; cycles <= 0; packets <= 0; rx_armed <= 1'b0;
        end else begin
            if (state == S_CHECK || state == S_RUN) cycles <= cycles + 1'b1;
            case (state)
                S_IDLE, S_FAIL: if (start) begin
                    d <= desc; state <= S_CHECK; cycles <= 0; packets <= 0; chk_start <= 1'b1;
                end
                S_CHECK: if (!chk_done) begin
                end else if (chk_code != `MSP_ERR_NONE) begin
                    state <= S_FAIL; error_set <= 1'b1; cycles <= 0;
                    e_code <= chk_code; e_packet <= 0; e_info <= chk_info;
                end else begin
                    state <= S_RUN; run_start <= 1'b1; wl_start <= weighted;
                    rx_pkt <= 0; rx_armed <= 1'b0; len_ok <= 0; tag_in <= 0;
                    images_left <= batch; computing <= 1'b0; acc_full <= 1'b0;
                    prm_row <= 0; prm_bad <= 1'b0; pc_v <= 1'b0;
                end
                S_RUN: begin
                    // the receiver: arm each packet in turn
                    if (!rx_armed && rx_pkt < npkts) rx_armed <= 1'b1;
                    if (rx_done) begin
                        rx_armed <= 1'b0; rx_pkt <= rx_pkt + 1'b1; tag_in <= rx_pkt + 1'b1;
                        // (a one-hot OR: a variable bit index becomes 32-bit index arithmetic)
                        len_ok <= len_ok | (3'd1 << rx_pkt); packets <= packets + 1'b1;
                    end
                    pc_v <= to_prm; pc_bad <= prm_bad_now; pc_row <= prm_row;
                    if (to_prm) prm_row <= prm_row + 1'b1;
                    if (pc_v && pc_bad != 0 && !prm_bad) begin prm_bad <= 1'b1; prm_bad_row <= pc_row; end
                    // compute each image once it is in the buffer (and the weights in the banks)
                    // (not in run_start's cycle: the blocks still show the last layer's state)
                    // (nor while a resume is on its way: img_done is the last image's until it lands)
                    if ((weighted || pooling) && !run_start && !img_resume && img_done && !computing && images_left != 0
                        && (!weighted || wl_done)) begin
                        wg_start <= 1'b1; computing <= 1'b1;
                    end
                    if (wg_done) begin
                        computing <= 1'b0; images_left <= images_left - 1'b1;
                        img_resume <= images_left != 1;
                    end
                    acc_full <= (acc_full && !capture) || (v2 && last2);
                    if (rx_len_error) begin
                        state <= S_FAIL; error_set <= 1'b1;
                        e_code <= `MSP_ERR_STREAM_LENGTH; e_packet <= {2'b0, rx_pkt}; e_info <= pkt_len;
                    end else if (bad_now) begin
                        state <= S_FAIL; error_set <= 1'b1;
                        e_code <= `MSP_ERR_BAD_DATA; e_packet <= bad_pkt; e_info <= bad_info;
                    end else if (tx_done) begin
                        state <= S_IDLE; done_set <= 1'b1;
                    end
                end
            endcase
        end
    end
endmodule
`default_nettype wire
