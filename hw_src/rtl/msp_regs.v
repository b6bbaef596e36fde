// msp_regs: the engine's AXI4-Lite register block (docs/registers.md, sections 1 to 4).
// Identification and geometry (generics), CONTROL/STATUS/IRQ_STATUS/CYCLES/ERROR_INFO, and the
// 16 descriptor registers. The datapath drives the status inputs; this block turns CONTROL
// writes into one-cycle `start` / `soft_reset` pulses and latches the descriptor for the layer
// at START (`desc` holds the registers, the datapath copies them on `start`).
// Whole-word accesses only (WSTRB ignored, as the register map allows); one outstanding
// transaction per channel; OKAY responses everywhere (unlisted offsets read 0, ignore writes).
`include "msp_contract.vh"
`default_nettype none
module msp_regs #(
    parameter [15:0] VECTOR_WIDTH = 16,
    parameter [15:0] LUT_ROWS     = 23,
    parameter [15:0] DSP_ROWS     = 24,
    parameter [15:0] ACT_BUF_KIB  = 128,
    parameter [15:0] WGT_BUF_KIB  = 188,
    parameter [31:0] FINGERPRINT  = 32'h7710D645,
    parameter [31:0] CLOCK_KHZ    = 125000
) (
    input  wire        aclk,
    input  wire        aresetn,
    // AXI4-Lite slave
    input  wire [11:0] s_axi_awaddr,
    input  wire        s_axi_awvalid,
    output reg         s_axi_awready,
    input  wire [31:0] s_axi_wdata,
    input  wire [3:0]  s_axi_wstrb,
    input  wire        s_axi_wvalid,
    output reg         s_axi_wready,
    output reg  [1:0]  s_axi_bresp,
    output reg         s_axi_bvalid,
    input  wire        s_axi_bready,
    input  wire [11:0] s_axi_araddr,
    input  wire        s_axi_arvalid,
    output reg         s_axi_arready,
    output reg  [31:0] s_axi_rdata,
    output reg  [1:0]  s_axi_rresp,
    output reg         s_axi_rvalid,
    input  wire        s_axi_rready,
    // to the datapath
    output reg         start,          // one cycle: CONTROL.START written
    output reg         soft_reset,     // one cycle: CONTROL.SOFT_RESET written (wins over START)
    output wire [511:0] desc,          // descriptor registers 0x100..0x13C, register i at [32*i +: 32]
    output wire        irq,
    // from the datapath
    input  wire        busy,
    input  wire        done_set,       // one cycle: the layer completed
    input  wire        error_set,      // one cycle: the layer failed (with error_code etc.)
    input  wire [3:0]  error_code,
    input  wire [3:0]  error_packet,
    input  wire [31:0] error_info,
    input  wire [3:0]  packets,
    input  wire [63:0] cycles
);
    // descriptor field widths (reserved bits read 0)
    function [31:0] desc_mask(input integer i);
        case (i)
            `MSP_DESC_INDEX_OP:          desc_mask = `MSP_DESC_MASK_OP;
            `MSP_DESC_INDEX_BATCH:       desc_mask = `MSP_DESC_MASK_BATCH;
            `MSP_DESC_INDEX_IN_H:        desc_mask = `MSP_DESC_MASK_IN_H;
            `MSP_DESC_INDEX_IN_W:        desc_mask = `MSP_DESC_MASK_IN_W;
            `MSP_DESC_INDEX_IN_C:        desc_mask = `MSP_DESC_MASK_IN_C;
            `MSP_DESC_INDEX_OUT_C:       desc_mask = `MSP_DESC_MASK_OUT_C;
            `MSP_DESC_INDEX_KERNEL:      desc_mask = `MSP_DESC_MASK_KERNEL;
            `MSP_DESC_INDEX_STRIDE:      desc_mask = `MSP_DESC_MASK_STRIDE;
            `MSP_DESC_INDEX_PADDING:     desc_mask = `MSP_DESC_MASK_PADDING;
            `MSP_DESC_INDEX_ACT_TYPES:   desc_mask = `MSP_DESC_MASK_ACT_TYPES;
            `MSP_DESC_INDEX_ROWS_SP2:    desc_mask = `MSP_DESC_MASK_ROWS_SP2;
            `MSP_DESC_INDEX_ROWS_FIXED4: desc_mask = `MSP_DESC_MASK_ROWS_FIXED4;
            `MSP_DESC_INDEX_ROWS_FIXED8: desc_mask = `MSP_DESC_MASK_ROWS_FIXED8;
            `MSP_DESC_INDEX_MULT_A:      desc_mask = `MSP_DESC_MASK_MULT_A;
            `MSP_DESC_INDEX_MULT_B:      desc_mask = `MSP_DESC_MASK_MULT_B;
            `MSP_DESC_INDEX_SHIFT:       desc_mask = `MSP_DESC_MASK_SHIFT;
            default:                     desc_mask = 32'd0;
        endcase
    endfunction
    // the descriptor block: MSP_DESC_COUNT registers from MSP_DESC_BASE, index in offset bits [5:2]
    localparam integer DB = `MSP_DESC_INDEX_BITS + 2;
    function is_desc(input [`MSP_ADDR_BITS-1:0] addr);
        is_desc = addr[`MSP_ADDR_BITS-1:DB] == (`MSP_DESC_BASE >> DB);
    endfunction

    reg [31:0] regs [0:`MSP_DESC_COUNT-1];
    reg        irq_enable, done, error, done_irq, error_irq;
    reg [3:0]  err_code, err_packet;
    reg [31:0] err_info;
    reg [11:0] awaddr;
    reg        have_aw, have_w;
    reg [31:0] wdata;

    genvar g;
    generate
        for (g = 0; g < `MSP_DESC_COUNT; g = g + 1) begin : pack
            assign desc[32*g +: 32] = regs[g];
        end
    endgenerate
    assign irq = irq_enable & (done_irq | error_irq);

    // ---- writes: accept AW and W in any order, then respond ----
    integer i;
    always @(posedge aclk) begin
        start <= 1'b0;
        soft_reset <= 1'b0;
        if (!aresetn) begin
            s_axi_awready <= 1'b0; s_axi_wready <= 1'b0; s_axi_bvalid <= 1'b0; s_axi_bresp <= 2'b00;
            have_aw <= 1'b0; have_w <= 1'b0;
            irq_enable <= 1'b0; done <= 1'b0; error <= 1'b0; done_irq <= 1'b0; error_irq <= 1'b0;
            err_code <= `MSP_ERR_NONE; err_packet <= 4'd0; err_info <= 32'd0;
            for (i = 0; i < `MSP_DESC_COUNT; i = i + 1) regs[i] <= 32'd0;
        end else begin
            s_axi_awready <= !have_aw && !s_axi_awready && s_axi_awvalid;
            s_axi_wready  <= !have_w && !s_axi_wready && s_axi_wvalid;
            if (s_axi_awvalid && s_axi_awready) begin awaddr <= s_axi_awaddr; have_aw <= 1'b1; end
            if (s_axi_wvalid && s_axi_wready)   begin wdata <= s_axi_wdata; have_w <= 1'b1; end
            if (s_axi_bvalid && s_axi_bready) s_axi_bvalid <= 1'b0;
            // datapath events
            if (done_set)  begin done <= 1'b1; done_irq <= 1'b1; end
            if (error_set) begin
                error <= 1'b1; error_irq <= 1'b1; done <= 1'b0;   // never DONE and ERROR together
                err_code <= error_code; err_packet <= error_packet; err_info <= error_info;
            end
            if (have_aw && have_w && !s_axi_bvalid) begin
                have_aw <= 1'b0; have_w <= 1'b0; s_axi_bvalid <= 1'b1;
                if (is_desc(awaddr))
                    regs[awaddr[DB-1:2]] <= wdata & desc_mask(awaddr[DB-1:2]);
                else if (awaddr == `MSP_REG_CONTROL) begin
                    irq_enable <= wdata[`MSP_CONTROL_IRQ_ENABLE_BIT];
                    if (wdata[`MSP_CONTROL_SOFT_RESET_BIT]) begin      // soft reset (section 4)
                        soft_reset <= 1'b1;
                        done <= 1'b0; error <= 1'b0; done_irq <= 1'b0; error_irq <= 1'b0;
                        err_code <= `MSP_ERR_NONE; err_packet <= 4'd0; err_info <= 32'd0;
                    end else if (wdata[`MSP_CONTROL_START_BIT] && !busy && !error) begin
                        start <= 1'b1;
                        done <= 1'b0; err_code <= `MSP_ERR_NONE; err_packet <= 4'd0; err_info <= 32'd0;
                    end
                end else if (awaddr == `MSP_REG_IRQ_STATUS) begin   // W1C
                    if (wdata[`MSP_IRQ_DONE_BIT]) done_irq <= 1'b0;
                    if (wdata[`MSP_IRQ_ERROR_BIT]) error_irq <= 1'b0;
                end
            end
        end
    end

    // ---- reads ----
    reg [31:0] status, control, irq_status, rvalue;
    always @* begin
        status = 32'd0;
        status[`MSP_STATUS_BUSY_BIT] = busy;
        status[`MSP_STATUS_DONE_BIT] = done;
        status[`MSP_STATUS_ERROR_BIT] = error;
        status[`MSP_STATUS_ERR_CODE_LSB +: `MSP_STATUS_ERR_CODE_WIDTH] = err_code;
        status[`MSP_STATUS_ERR_PACKET_LSB +: `MSP_STATUS_ERR_PACKET_WIDTH] = err_packet;
        status[`MSP_STATUS_PACKETS_LSB +: `MSP_STATUS_PACKETS_WIDTH] = packets;
        control = 32'd0;                                     // START, SOFT_RESET read as 0
        control[`MSP_CONTROL_IRQ_ENABLE_BIT] = irq_enable;
        irq_status = 32'd0;
        irq_status[`MSP_IRQ_DONE_BIT] = done_irq;
        irq_status[`MSP_IRQ_ERROR_BIT] = error_irq;
    end
    always @* begin
        case (s_axi_araddr)
            `MSP_REG_ID:           rvalue = `MSP_ENGINE_ID;
            `MSP_REG_VERSION:      rvalue = `MSP_ENGINE_VERSION;
            `MSP_REG_VECTOR_WIDTH: rvalue = {16'd0, VECTOR_WIDTH};
            `MSP_REG_LUT_ROWS:     rvalue = {16'd0, LUT_ROWS};
            `MSP_REG_DSP_ROWS:     rvalue = {16'd0, DSP_ROWS};
            `MSP_REG_ACT_BUF_KIB:  rvalue = {16'd0, ACT_BUF_KIB};
            `MSP_REG_WGT_BUF_KIB:  rvalue = {16'd0, WGT_BUF_KIB};
            `MSP_REG_FINGERPRINT:  rvalue = FINGERPRINT;
            `MSP_REG_CLOCK_KHZ:    rvalue = CLOCK_KHZ;
            `MSP_REG_CONTROL:      rvalue = control;
            `MSP_REG_STATUS:       rvalue = status;
            `MSP_REG_IRQ_STATUS:   rvalue = irq_status;
            `MSP_REG_CYCLES_LO:    rvalue = cycles[31:0];
            `MSP_REG_CYCLES_HI:    rvalue = cycles[63:32];
            `MSP_REG_ERROR_INFO:   rvalue = err_info;
            default: rvalue = is_desc(s_axi_araddr) ? regs[s_axi_araddr[DB-1:2]] : 32'd0;
        endcase
    end
    always @(posedge aclk) begin
        if (!aresetn) begin
            s_axi_arready <= 1'b0; s_axi_rvalid <= 1'b0; s_axi_rdata <= 32'd0; s_axi_rresp <= 2'b00;
        end else begin
            s_axi_arready <= !s_axi_arready && s_axi_arvalid && !s_axi_rvalid;
            if (s_axi_arvalid && s_axi_arready) begin s_axi_rdata <= rvalue; s_axi_rvalid <= 1'b1; end
            else if (s_axi_rvalid && s_axi_rready) s_axi_rvalid <= 1'b0;
        end
    end
endmodule
`default_nettype wire
