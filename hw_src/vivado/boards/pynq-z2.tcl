# Board values of the pynq-z2 overlay for build_overlay.tcl.
# GENERATED from overlays/pynq-z2/manifest.json by hw_src/vivado/board_tcl.py: do not edit;
# change the manifest and run `python3 hw_src/vivado/board_tcl.py`.
# tests/hdl/test_vivado_scripts.py checks every value against the manifest and the board profile.

set board             pynq-z2
set part              xc7z020clg400-1
set board_part        tul.com.tw:pynq-z2:part0:1.0
set arch              zynq
set bitstream_file    msp_engine.bit
set hwh_file          msp_engine.hwh

# Processing system and fabric clock
set ps_instance       processing_system7_0
set ps_vlnv           xilinx.com:ip:processing_system7:5.5
set ps_control_master M_AXI_GP0
set ps_data_slave     S_AXI_HP0
set ps_data_width     64
set control_low       0x40000000
set control_high      0x7FFFFFFF
set fclk_name         FCLK_CLK0
set fclk_mhz          125.0
set fclk_source       {IO PLL}
set fclk_divisor0     8
set fclk_divisor1     1

# AXI DMA (simple mode): its AXI4-Lite window on the control master
set dma_instance      axi_dma_0
set dma_vlnv          xilinx.com:ip:axi_dma:7.1
set dma_interface     S_AXI_LITE
set dma_base          0x40400000
set dma_range         0x00010000
set dma_params {
    c_include_sg               0
    c_micro_dma                0
    c_sg_length_width          26
    c_sg_include_stscntrl_strm 0
    c_include_mm2s             1
    c_include_s2mm             1
    c_m_axi_mm2s_data_width    64
    c_m_axis_mm2s_tdata_width  64
    c_m_axi_s2mm_data_width    64
    c_s_axis_s2mm_tdata_width  64
    c_include_mm2s_dre         0
    c_include_s2mm_dre         0
    c_mm2s_burst_size          16
    c_s2mm_burst_size          16
    c_addr_width               32
}

# The engine: its register window and generics (VERSION, STREAM_WIDTH are fixed in the RTL)
set engine_instance   msp_engine_0
set engine_vlnv       msp-pynq:rtl:msp_engine:1.0
set engine_interface  S_AXI
set engine_base       0x43C00000
set engine_range      0x00001000
set engine_generics {
    VECTOR_WIDTH 16
    LUT_ROWS     23
    DSP_ROWS     24
    ACT_BUF_KIB  128
    WGT_BUF_KIB  188
    FINGERPRINT  0x7710D645
    CLOCK_KHZ    125000
}

# AXI4-Stream connections, from -> to
set streams {
    {axi_dma_0/M_AXIS_MM2S msp_engine_0/S_AXIS}
    {msp_engine_0/M_AXIS axi_dma_0/S_AXIS_S2MM}
}
