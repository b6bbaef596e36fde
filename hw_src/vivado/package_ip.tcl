# Package hw_src/rtl/*.v (and the header they include, *.vh) as the Vivado IP msp-pynq:rtl:msp_engine:1.0 (docs/registers.md).
#
#   vivado -mode batch -source hw_src/vivado/package_ip.tcl -tclargs <part> <ip_dir> [scratch_dir]
#
# build_overlay.tcl sources this file (with msp_package_ip_library_only set) and calls
# package_msp_engine itself, once per board, into build/vivado/<board>/ip_repo/msp_engine.
#
# Every bus interface is declared here port by port rather than left to Vivado's inference, so
# the interfaces are named exactly as the register map and the overlay manifests name them
# (S_AXI, S_AXIS, M_AXIS) whatever the inference rules of the Vivado version in use.
# tests/hdl/test_vivado_scripts.py checks that every port of the engine's top level is mapped,
# that the address block is the register window and that the registers are registers.py's.

set msp_engine_vendor  msp-pynq
set msp_engine_library rtl
set msp_engine_name    msp_engine
set msp_engine_version 1.0

# Bus interfaces: name, abstraction type (the bus type is the same VLNV without "_rtl"),
# mode, then logical port -> top-level port of msp_engine.
set msp_engine_interfaces {
    S_AXI xilinx.com:interface:aximm_rtl:1.0 slave {
        AWADDR  s_axi_awaddr   AWVALID s_axi_awvalid  AWREADY s_axi_awready
        WDATA   s_axi_wdata    WSTRB   s_axi_wstrb    WVALID  s_axi_wvalid   WREADY s_axi_wready
        BRESP   s_axi_bresp    BVALID  s_axi_bvalid   BREADY  s_axi_bready
        ARADDR  s_axi_araddr   ARVALID s_axi_arvalid  ARREADY s_axi_arready
        RDATA   s_axi_rdata    RRESP   s_axi_rresp    RVALID  s_axi_rvalid   RREADY s_axi_rready
    }
    S_AXIS xilinx.com:interface:axis_rtl:1.0 slave {
        TDATA s_axis_tdata  TKEEP s_axis_tkeep  TLAST s_axis_tlast  TVALID s_axis_tvalid  TREADY s_axis_tready
    }
    M_AXIS xilinx.com:interface:axis_rtl:1.0 master {
        TDATA m_axis_tdata  TKEEP m_axis_tkeep  TLAST m_axis_tlast  TVALID m_axis_tvalid  TREADY m_axis_tready
    }
    aclk    xilinx.com:signal:clock_rtl:1.0     slave  {CLK aclk}
    aresetn xilinx.com:signal:reset_rtl:1.0     slave  {RST aresetn}
    irq     xilinx.com:signal:interrupt_rtl:1.0 master {INTERRUPT irq}
}

# Bus parameters. One clock for all three bus interfaces (the engine has a single clock
# domain); the AXI4-Lite protocol stated so IP integrator does not look for burst signals.
set msp_engine_bus_parameters {
    S_AXI   {PROTOCOL AXI4LITE}
    aclk    {ASSOCIATED_BUSIF S_AXI:S_AXIS:M_AXIS ASSOCIATED_RESET aresetn}
    aresetn {POLARITY ACTIVE_LOW}
    irq     {SENSITIVITY LEVEL_HIGH}
}

# The S_AXI register window: one 4 KiB address block (registers.WINDOW_BYTES).
set msp_engine_window_bytes 4096

# The registers of docs/registers.md section 2, listed in the IP so that the overlay's .hwh
# carries them (pynq's register_map); access as msp_pynq/runtime/hwh.py states it.
set msp_engine_registers {
    ID           0x000 read-only
    VERSION      0x004 read-only
    VECTOR_WIDTH 0x008 read-only
    LUT_ROWS     0x00C read-only
    DSP_ROWS     0x010 read-only
    ACT_BUF_KIB  0x014 read-only
    WGT_BUF_KIB  0x018 read-only
    FINGERPRINT  0x01C read-only
    CLOCK_KHZ    0x020 read-only
    CONTROL      0x040 read-write
    STATUS       0x044 read-only
    IRQ_STATUS   0x048 read-write
    CYCLES_LO    0x04C read-only
    CYCLES_HI    0x050 read-only
    ERROR_INFO   0x054 read-only
    OP           0x100 read-write
    BATCH        0x104 read-write
    IN_H         0x108 read-write
    IN_W         0x10C read-write
    IN_C         0x110 read-write
    OUT_C        0x114 read-write
    KERNEL       0x118 read-write
    STRIDE       0x11C read-write
    PADDING      0x120 read-write
    ACT_TYPES    0x124 read-write
    ROWS_SP2     0x128 read-write
    ROWS_FIXED4  0x12C read-write
    ROWS_FIXED8  0x130 read-write
    MULT_A       0x134 read-write
    MULT_B       0x138 read-write
    SHIFT        0x13C read-write
}

# The engine's generics and their IP-XACT format. FINGERPRINT and CLOCK_KHZ are [31:0]
# vectors in the RTL: as bitString parameters the generated HDL passes them as 32'h...
# literals, and IP integrator takes their CONFIG values as 0x-prefixed hex (build_overlay.tcl
# converts). VERSION and STREAM_WIDTH of the manifests are fixed in the RTL, not generics.
set msp_engine_generics {
    VECTOR_WIDTH long
    LUT_ROWS     long
    DSP_ROWS     long
    ACT_BUF_KIB  long
    WGT_BUF_KIB  long
    FINGERPRINT  bitString
    CLOCK_KHZ    bitString
}

# The value of a bitString parameter as IP integrator expects it: 0x and 8 hex digits.
proc msp_bitstring32 {value} {
    return [format 0x%08X [expr {wide($value) & 0xFFFFFFFF}]]
}

proc package_msp_engine {rtl_dir ip_dir part scratch_dir} {
    global msp_engine_vendor msp_engine_library msp_engine_name msp_engine_version
    global msp_engine_interfaces msp_engine_bus_parameters msp_engine_window_bytes
    global msp_engine_registers msp_engine_generics

    set sources [lsort [glob -nocomplain -directory $rtl_dir *.v]]
    if {[lsearch -exact $sources [file join $rtl_dir $msp_engine_name.v]] < 0} {
        error "package_msp_engine: no $msp_engine_name.v in $rtl_dir (the engine's top level)"
    }

    # the RTL's `include "msp_contract.vh" (generated: python -m msp_pynq.hw.verilog_header)
    set headers [lsort [glob -nocomplain -directory $rtl_dir *.vh]]

    # ipx::package_project packages the current project: a scratch project holds the sources.
    create_project -force ${msp_engine_name}_package $scratch_dir -part $part
    add_files -norecurse [concat $sources $headers]
    if {[llength $headers] > 0} {
        # Verilog Header files are found by `include wherever they are (also in the IP's copy)
        set_property file_type {Verilog Header} [get_files $headers]
    }
    set_property include_dirs [list $rtl_dir] [current_fileset]
    set_property top $msp_engine_name [current_fileset]
    update_compile_order -fileset sources_1

    # -import_files copies the RTL into the IP, so each build packages a snapshot.
    file delete -force $ip_dir
    ipx::package_project -root_dir $ip_dir -vendor $msp_engine_vendor -library $msp_engine_library \
        -taxonomy /UserIP -import_files -set_current true -force
    set core [ipx::current_core]
    set_property name         $msp_engine_name $core
    set_property version      $msp_engine_version $core
    set_property display_name "MSP engine (mixed DSP/LUT CNN layers)" $core
    set_property description  "msp-pynq engine: registers and stream protocol of docs/registers.md" $core
    # Both boards' families, whatever part the scratch project was created for.
    set_property supported_families {zynq Production zynquplus Production} $core

    # Replace whatever Vivado inferred by the declarations above.
    ipx::remove_all_bus_interface $core
    ipx::remove_all_memory_map $core
    foreach {name abstraction mode ports} $msp_engine_interfaces {
        ipx::add_bus_interface $name $core
        set bus [ipx::get_bus_interfaces $name -of_objects $core]
        set_property abstraction_type_vlnv $abstraction $bus
        set_property bus_type_vlnv [string map {_rtl: :} $abstraction] $bus
        set_property interface_mode $mode $bus
        foreach {logical physical} $ports {
            ipx::add_port_map $logical $bus
            set_property physical_name $physical [ipx::get_port_maps $logical -of_objects $bus]
        }
    }
    foreach {name parameters} $msp_engine_bus_parameters {
        set bus [ipx::get_bus_interfaces $name -of_objects $core]
        foreach {parameter value} $parameters {
            ipx::add_bus_parameter $parameter $bus
            set_property value $value [ipx::get_bus_parameters $parameter -of_objects $bus]
        }
    }

    # S_AXI's memory map: one register block, the 4 KiB window of docs/registers.md.
    ipx::add_memory_map S_AXI $core
    set memory_map [ipx::get_memory_maps S_AXI -of_objects $core]
    set_property slave_memory_map_ref S_AXI [ipx::get_bus_interfaces S_AXI -of_objects $core]
    ipx::add_address_block reg0 $memory_map
    set block [ipx::get_address_blocks reg0 -of_objects $memory_map]
    set_property range  $msp_engine_window_bytes $block
    set_property width  32 $block
    set_property usage  register $block
    set_property access read-write $block
    foreach {name offset access} $msp_engine_registers {
        ipx::add_register $name $block
        set register [ipx::get_registers $name -of_objects $block]
        set_property address_offset $offset $register
        set_property size 32 $register
        set_property access $access $register
        set_property description "$name (docs/registers.md)" $register
    }

    # Generics: user-settable, in the format their HDL type calls for.
    foreach {name format} $msp_engine_generics {
        set user [ipx::get_user_parameters $name -of_objects $core]
        set hdl  [ipx::get_hdl_parameters $name -of_objects $core]
        if {$user eq "" || $hdl eq ""} {
            error "package_msp_engine: $msp_engine_name.v has no generic $name"
        }
        foreach parameter [list $user $hdl] {
            set value [get_property value $parameter]
            if {$format eq "bitString"} {
                # Keep the RTL default, as 0x hex where Vivado read it as a number; format,
                # length and value in one step so that no intermediate state is invalid.
                set properties [list value_format bitString value_bit_string_length 32]
                if {[string is wideinteger -strict $value]} {
                    lappend properties value [msp_bitstring32 $value]
                }
                set_property -dict $properties $parameter
            } else {
                set_property value_format $format $parameter
            }
        }
        set_property value_resolve_type user $user
    }

    ipx::create_xgui_files $core
    ipx::update_checksums $core
    ipx::check_integrity $core
    ipx::save_core $core
    close_project
    return $ip_dir
}

if {![info exists msp_package_ip_library_only]} {
    if {[llength $argv] < 2 || [llength $argv] > 3} {
        error "usage: vivado -mode batch -source hw_src/vivado/package_ip.tcl -tclargs <part> <ip_dir> \[scratch_dir\]"
    }
    set rtl_dir [file join [file dirname [file dirname [file normalize [info script]]]] rtl]
    set scratch_dir [expr {[llength $argv] > 2 ? [lindex $argv 2] : "msp_engine_package_project"}]
    package_msp_engine $rtl_dir [file normalize [lindex $argv 1]] [lindex $argv 0] [file normalize $scratch_dir]
}
