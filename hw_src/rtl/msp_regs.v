// msp_regs: the engine's AXI4-Lite register block (docs/registers.md, sections 1 to 4).
// Identification and geometry (generics), CONTROL/STATUS/IRQ_STATUS/CYCLES/ERROR_INFO, and the
// 16 descriptor registers. The datapath drives the status inputs; this block turns CONTROL
// writes into one-cycle `start` / `soft_reset` pulses and latches the descriptor for the layer
// at START (`desc` holds the registers, the datapath copies them on `start`).
// Whole-word accesses only (WSTRB ignored, as the register map allows); one outstanding
// transaction per channel; OKAY responses everywhere (unlisted offsets read 0, ignore writes).
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
            0:  desc_mask = 32'h0000000F;                    // OP
            6, 7: desc_mask = 32'h0000FFFF;                  // KERNEL, STRIDE: [7:0], [15:8]
            8:  desc_mask = 32'hFFFFFFFF;                    // PADDING
            9:  desc_mask = 32'h01FFFFFF;                    // ACT_TYPES
            15: desc_mask = 32'h0000003F;                    // SHIFT
            default: desc_mask = 32'h0000FFFF;               // 16-bit fields
        endcase
    endfunction

    reg [31:0] regs [0:15];
    reg        irq_enable, done, error, done_irq, error_irq;
    reg [3:0]  err_code, err_packet;
    reg [31:0] err_info;
    reg [11:0] awaddr;
    reg        have_aw, have_w;
    reg [31:0] wdata;

    genvar g;
    generate
        for (g = 0; g < 16; g = g + 1) begin : pack
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
            err_code <= 4'd0; err_packet <= 4'd0; err_info <= 32'd0;
            for (i = 0; i < 16; i = i + 1) regs[i] <= 32'd0;
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
                if (awaddr[11:8] == 4'h1 && awaddr[7:6] == 2'b00)
                    regs[awaddr[5:2]] <= wdata & desc_mask(awaddr[5:2]);
                else if (awaddr == 12'h040) begin
                    irq_enable <= wdata[2];
                    if (wdata[1]) begin                       // soft reset (section 4)
                        soft_reset <= 1'b1;
                        done <= 1'b0; error <= 1'b0; done_irq <= 1'b0; error_irq <= 1'b0;
                        err_code <= 4'd0; err_packet <= 4'd0; err_info <= 32'd0;
                    end else if (wdata[0] && !busy && !error) begin
                        start <= 1'b1;
                        done <= 1'b0; err_code <= 4'd0; err_packet <= 4'd0; err_info <= 32'd0;
                    end
                end else if (awaddr == 12'h048) begin         // W1C
                    if (wdata[0]) done_irq <= 1'b0;
                    if (wdata[1]) error_irq <= 1'b0;
                end
            end
        end
    end

    // ---- reads ----
    wire [31:0] status = {12'd0, packets, err_packet, err_code, 5'd0, error, done, busy};
    reg [31:0] rvalue;
    always @* begin
        case (s_axi_araddr)
            12'h000: rvalue = 32'h4D535045;                  // 'MSPE'
            12'h004: rvalue = 32'h00010000;                  // version 1.0
            12'h008: rvalue = {16'd0, VECTOR_WIDTH};
            12'h00C: rvalue = {16'd0, LUT_ROWS};
            12'h010: rvalue = {16'd0, DSP_ROWS};
            12'h014: rvalue = {16'd0, ACT_BUF_KIB};
            12'h018: rvalue = {16'd0, WGT_BUF_KIB};
            12'h01C: rvalue = FINGERPRINT;
            12'h020: rvalue = CLOCK_KHZ;
            12'h040: rvalue = {29'd0, irq_enable, 2'b00};    // START, SOFT_RESET read as 0
            12'h044: rvalue = status;
            12'h048: rvalue = {30'd0, error_irq, done_irq};
            12'h04C: rvalue = cycles[31:0];
            12'h050: rvalue = cycles[63:32];
            12'h054: rvalue = err_info;
            default: rvalue = (s_axi_araddr[11:8] == 4'h1 && s_axi_araddr[7:6] == 2'b00)
                              ? regs[s_axi_araddr[5:2]] : 32'd0;
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
