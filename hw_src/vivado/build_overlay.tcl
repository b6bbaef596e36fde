# Build the msp_engine overlay of one board and copy its .bit and .hwh into overlays/<board>/.
#
#   vivado -mode batch -source hw_src/vivado/build_overlay.tcl -tclargs <board> [jobs] [--bd-only]
#   make overlay BOARD=<board>          (the same, after checking the board file is up to date)
#
# Targets Vivado 2022.1, the version PYNQ 3.0's images are built with; the pynq-z2 needs TUL's
# board files installed (overlays/README.md). Work files go to build/vivado/<board>/; with
# --bd-only the script stops after the block design is validated and saved (to inspect it in
# the GUI) and copies nothing.
#
# The design: the Zynq PS (PS7 or Zynq UltraScale+) drives the AXI4-Lite windows of the AXI DMA
# and the engine through one interconnect on its control master; the DMA's MM2S and S2MM
# masters reach DDR through a second interconnect on the PS's HP data slave; MM2S streams into
# the engine's S_AXIS and the engine's M_AXIS into S2MM. One fabric clock for everything and
# one proc_sys_reset; no interrupt wired (the runtime polls STATUS, docs/registers.md).
#
# Every board-specific value comes from hw_src/vivado/boards/<board>.tcl, which
# hw_src/vivado/board_tcl.py writes from overlays/<board>/manifest.json, the file the runtime
# checks the .hwh against on the board. tests/hdl/test_vivado_scripts.py checks that file and
# this script (addresses, DMA parameters, generics, streams, part) against the manifest, the
# board profile and the register map.

set script_dir [file dirname [file normalize [info script]]]
set repo_dir   [file dirname [file dirname $script_dir]]
set vivado_version_targeted 2022.1
# The block design is not called msp_engine: its own HDL module would clash with the engine's.
# Its outputs are renamed to the manifest's files (msp_engine.bit, msp_engine.hwh) at the end.
set bd_name    msp_overlay

# ---- arguments and board values ---------------------------------------------------------
set bd_only [expr {[lsearch -exact $argv --bd-only] >= 0}]
set positional [lsearch -all -inline -not -exact $argv --bd-only]
if {[llength $positional] < 1 || [llength $positional] > 2} {
    error "usage: vivado -mode batch -source hw_src/vivado/build_overlay.tcl -tclargs <board> \[jobs\] \[--bd-only\]"
}
set board_name [lindex $positional 0]
set jobs       [expr {[llength $positional] > 1 ? [lindex $positional 1] : 4}]
set board_file [file join $script_dir boards $board_name.tcl]
if {![file exists $board_file]} {
    set known [lsort [glob -nocomplain -tails -directory [file join $script_dir boards] *.tcl]]
    error "no board file $board_file (boards: [string map {.tcl {}} $known])"
}
source $board_file
if {$board ne $board_name} {
    error "$board_file describes board $board, not $board_name"
}
set build_dir [file join $repo_dir build vivado $board]
set out_dir   [file join $repo_dir overlays $board]

if {[version -short] ne $vivado_version_targeted} {
    puts "WARNING: this script targets Vivado $vivado_version_targeted (PYNQ 3.0); running [version -short].\
          IP versions named in overlays/$board/manifest.json ($ps_vlnv, $dma_vlnv) must exist in it."
}

# ---- PS ports: Vivado's CONFIG names, per PS family ---------------------------------------
# port -> {CONFIG that enables it, CONFIG of its data width ({} if fixed), its clock pin}.
# Every port listed is switched off except the manifest's control master and data slave, so
# no enabled port is left without a clock.
set ps_ports {
    zynq {
        M_AXI_GP0      {PCW_USE_M_AXI_GP0   {}                       M_AXI_GP0_ACLK}
        M_AXI_GP1      {PCW_USE_M_AXI_GP1   {}                       M_AXI_GP1_ACLK}
        S_AXI_HP0      {PCW_USE_S_AXI_HP0   PCW_S_AXI_HP0_DATA_WIDTH S_AXI_HP0_ACLK}
        S_AXI_HP1      {PCW_USE_S_AXI_HP1   PCW_S_AXI_HP1_DATA_WIDTH S_AXI_HP1_ACLK}
        S_AXI_HP2      {PCW_USE_S_AXI_HP2   PCW_S_AXI_HP2_DATA_WIDTH S_AXI_HP2_ACLK}
        S_AXI_HP3      {PCW_USE_S_AXI_HP3   PCW_S_AXI_HP3_DATA_WIDTH S_AXI_HP3_ACLK}
    }
    zynquplus {
        M_AXI_HPM0_FPD {PSU__USE__M_AXI_GP0 PSU__MAXIGP0__DATA_WIDTH maxihpm0_fpd_aclk}
        M_AXI_HPM1_FPD {PSU__USE__M_AXI_GP1 PSU__MAXIGP1__DATA_WIDTH maxihpm1_fpd_aclk}
        M_AXI_HPM0_LPD {PSU__USE__M_AXI_GP2 PSU__MAXIGP2__DATA_WIDTH maxihpm0_lpd_aclk}
        S_AXI_HP0_FPD  {PSU__USE__S_AXI_GP2 PSU__SAXIGP2__DATA_WIDTH saxihp0_fpd_aclk}
        S_AXI_HP1_FPD  {PSU__USE__S_AXI_GP3 PSU__SAXIGP3__DATA_WIDTH saxihp1_fpd_aclk}
        S_AXI_HP2_FPD  {PSU__USE__S_AXI_GP4 PSU__SAXIGP4__DATA_WIDTH saxihp2_fpd_aclk}
        S_AXI_HP3_FPD  {PSU__USE__S_AXI_GP5 PSU__SAXIGP5__DATA_WIDTH saxihp3_fpd_aclk}
    }
}
# Fabric clock 0 and its reset, the block automation rule, and the CONFIG names of the clock:
# requested MHz, source, and what Vivado achieved (read back after validation).
set ps_family {
    zynq {
        fclk FCLK_CLK0 resetn FCLK_RESET0_N rule xilinx.com:bd_rule:processing_system7
        freq PCW_FPGA0_PERIPHERAL_FREQMHZ source PCW_FCLK0_PERIPHERAL_CLKSRC
        actual PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ
        divisor0 PCW_FCLK0_PERIPHERAL_DIVISOR0 divisor1 PCW_FCLK0_PERIPHERAL_DIVISOR1
        fixed {PCW_EN_CLK0_PORT 1 PCW_EN_RST0_PORT 1 PCW_USE_FABRIC_INTERRUPT 0}
    }
    zynquplus {
        fclk pl_clk0 resetn pl_resetn0 rule xilinx.com:bd_rule:zynq_ultra_ps_e
        freq PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ source PSU__CRL_APB__PL0_REF_CTRL__SRCSEL
        actual PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ
        divisor0 PSU__CRL_APB__PL0_REF_CTRL__DIVISOR0 divisor1 PSU__CRL_APB__PL0_REF_CTRL__DIVISOR1
        fixed {PSU__FPGA_PL0_ENABLE 1 PSU__USE__IRQ0 0 PSU__USE__IRQ1 0}
    }
}
if {![dict exists $ps_family $arch]} {
    error "unknown PS family '$arch' (known: [dict keys $ps_family])"
}
set family [dict get $ps_family $arch]
foreach port [list $ps_control_master $ps_data_slave] {
    if {![dict exists $ps_ports $arch $port]} {
        error "build_overlay.tcl does not know the $arch PS port $port"
    }
}
if {$fclk_name ne [dict get $family fclk]} {
    error "overlays/$board/manifest.json names fabric clock $fclk_name; this script drives [dict get $family fclk]"
}

# The PS's CONFIG: our two ports on (data slave at the manifest's width, a 32-bit control
# master where the width is configurable: AXI4-Lite peripherals only), every other port off,
# fabric clock 0 at the manifest's frequency from the manifest's PLL, no fabric interrupts.
proc ps_config {} {
    global ps_ports arch family ps_control_master ps_data_slave ps_data_width fclk_mhz fclk_source
    set config {}
    dict for {port names} [dict get $ps_ports $arch] {
        lassign $names enable width clock
        set used [expr {$port eq $ps_control_master || $port eq $ps_data_slave}]
        lappend config CONFIG.$enable $used
        if {$port eq $ps_data_slave && $width ne ""} {
            lappend config CONFIG.$width $ps_data_width
        } elseif {$port eq $ps_control_master && $width ne ""} {
            lappend config CONFIG.$width 32
        }
    }
    lappend config CONFIG.[dict get $family freq] [format %g $fclk_mhz]
    lappend config CONFIG.[dict get $family source] $fclk_source
    dict for {name value} [dict get $family fixed] {
        lappend config CONFIG.$name $value
    }
    return $config
}

# ---- helpers --------------------------------------------------------------------------------
# Set IP configuration parameters from a {name value ...} list.
proc set_config {cell params} {
    set config {}
    dict for {name value} $params {
        lappend config CONFIG.$name $value
    }
    set_property -dict $config [get_bd_cells $cell]
}

# The engine's CONFIG values: the manifest's numbers, 32-bit vectors as 0x hex (package_ip.tcl).
proc engine_config {generics} {
    global msp_engine_generics board
    set config {}
    dict for {name value} $generics {
        if {![dict exists $msp_engine_generics $name]} {
            error "overlays/$board/manifest.json sets $name, which is no generic of msp_engine"
        }
        if {[dict get $msp_engine_generics $name] eq "bitString"} {
            lappend config $name [msp_bitstring32 $value]
        } else {
            lappend config $name [expr {$value}]
        }
    }
    return $config
}

# After validation: each parameter must have kept the value set (Vivado ignores values it
# considers disabled, and the runtime compares the DMA's with the manifest on the board).
proc check_config {cell params} {
    global board
    dict for {name want} $params {
        set got [get_property CONFIG.$name [get_bd_cells $cell]]
        if {[string is wideinteger -strict $got] && [string is wideinteger -strict $want]} {
            set same [expr {$got == $want}]
        } else {
            set same [string equal -nocase $got $want]
        }
        if {!$same} {
            error "$cell: CONFIG.$name is '$got' after validation, expected '$want' (overlays/$board/manifest.json)"
        }
    }
}

# An address segment's offset or range as a number (Vivado may print ranges as 4K, 64K, ...).
proc address_value {text} {
    if {[regexp {^([0-9]+)([KMG])$} $text -> n unit]} {
        return [expr {$n * [dict get {K 1024 M 1048576 G 1073741824} $unit]}]
    }
    return [expr {$text}]
}

# The PS's view of one slave: the assigned segment must have the manifest's base and range.
proc check_address {space instance base range} {
    global board
    set segs [get_bd_addr_segs -quiet -of_objects [get_bd_addr_spaces $space] -filter "NAME =~ SEG_${instance}_*"]
    if {[llength $segs] != 1} {
        puts "WARNING: cannot read back the address of $instance in $space (found: $segs)"
        return
    }
    set seg [lindex $segs 0]
    set got_base [address_value [get_property OFFSET $seg]]
    set got_range [address_value [get_property RANGE $seg]]
    if {$got_base != $base || $got_range != $range} {
        error "$instance at [format 0x%08X $got_base] (+[format 0x%X $got_range]), expected\
               [format 0x%08X $base] (+[format 0x%X $range]) as overlays/$board/manifest.json states"
    }
}

# Board files: Vivado ships the ZCU104's; the PYNQ-Z2's come from TUL or Vivado's board store.
proc require_board_part {board_part} {
    if {[llength [get_board_parts -quiet $board_part]] > 0} {
        return
    }
    set paths [get_param board.repoPaths]
    if {[info exists ::env(MSP_PYNQ_BOARD_REPO)]} {
        lappend paths [file normalize $::env(MSP_PYNQ_BOARD_REPO)]
    }
    if {[info exists ::env(HOME)]} {
        lappend paths [file join $::env(HOME) .Xilinx Vivado [version -short] xhub board_store xilinx_board_store]
    }
    set_param board.repoPaths $paths
    if {[llength [get_board_parts -quiet $board_part]] == 0} {
        error "board files for $board_part not found. Install them from Vivado's board store\
               (Tcl console: xhub::refresh_catalog \[xhub::get_xstores xilinx_board_store\];\
               xhub::install \[xhub::get_xitems *pynq-z2*\]) or unpack them and set\
               MSP_PYNQ_BOARD_REPO to their folder (see overlays/README.md)"
    }
}

# ---- 1. the engine as an IP -------------------------------------------------------------------
require_board_part $board_part      ;# first: fail before anything is built
set msp_package_ip_library_only 1
source [file join $script_dir package_ip.tcl]
set ip_repo [file join $build_dir ip_repo]
package_msp_engine [file join $repo_dir hw_src rtl] [file join $ip_repo msp_engine] $part \
    [file join $build_dir package_project]

# ---- 2. project ---------------------------------------------------------------------------------
create_project -force $bd_name [file join $build_dir project] -part $part
set_property board_part $board_part [current_project]
set_property ip_repo_paths [list $ip_repo] [current_project]
update_ip_catalog -rebuild

# ---- 3. block design ----------------------------------------------------------------------------
create_bd_design $bd_name

# Processing system: the board preset (DDR, MIO, clocks of the board) first, then our ports.
create_bd_cell -type ip -vlnv $ps_vlnv $ps_instance
if {$arch eq "zynq"} {
    apply_bd_automation -rule [dict get $family rule] \
        -config {make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"} \
        [get_bd_cells $ps_instance]
} else {
    apply_bd_automation -rule [dict get $family rule] -config {apply_board_preset "1"} \
        [get_bd_cells $ps_instance]
}
set_property -dict [ps_config] [get_bd_cells $ps_instance]

# AXI DMA in simple mode. The scatter-gather options can be edited only while scatter-gather
# is on (its default), so they are set first and c_include_sg last.
create_bd_cell -type ip -vlnv $dma_vlnv $dma_instance
set_config $dma_instance [dict remove $dma_params c_include_sg]
set_config $dma_instance [dict create c_include_sg [dict get $dma_params c_include_sg]]

# The engine with the board's geometry.
create_bd_cell -type ip -vlnv $engine_vlnv $engine_instance
set_config $engine_instance [engine_config $engine_generics]

# Interconnects: control (PS master -> DMA and engine registers), memory (DMA -> HP port).
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_interconnect:2.1 ctrl_interconnect
set_property -dict {CONFIG.NUM_SI 1 CONFIG.NUM_MI 2} [get_bd_cells ctrl_interconnect]
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_interconnect:2.1 mem_interconnect
set_property -dict {CONFIG.NUM_SI 2 CONFIG.NUM_MI 1} [get_bd_cells mem_interconnect]
create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset:5.0 fabric_reset

connect_bd_intf_net [get_bd_intf_pins $ps_instance/$ps_control_master] [get_bd_intf_pins ctrl_interconnect/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins ctrl_interconnect/M00_AXI] [get_bd_intf_pins $dma_instance/$dma_interface]
connect_bd_intf_net [get_bd_intf_pins ctrl_interconnect/M01_AXI] [get_bd_intf_pins $engine_instance/$engine_interface]
connect_bd_intf_net [get_bd_intf_pins $dma_instance/M_AXI_MM2S] [get_bd_intf_pins mem_interconnect/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins $dma_instance/M_AXI_S2MM] [get_bd_intf_pins mem_interconnect/S01_AXI]
connect_bd_intf_net [get_bd_intf_pins mem_interconnect/M00_AXI] [get_bd_intf_pins $ps_instance/$ps_data_slave]
foreach stream $streams {
    connect_bd_intf_net [get_bd_intf_pins [lindex $stream 0]] [get_bd_intf_pins [lindex $stream 1]]
}

# One clock domain: the fabric clock drives every clock pin, the PS port clocks included.
set control_clock [lindex [dict get $ps_ports $arch $ps_control_master] 2]
set data_clock    [lindex [dict get $ps_ports $arch $ps_data_slave] 2]
connect_bd_net [get_bd_pins $ps_instance/$fclk_name] \
    [get_bd_pins $ps_instance/$control_clock] [get_bd_pins $ps_instance/$data_clock] \
    [get_bd_pins fabric_reset/slowest_sync_clk] [get_bd_pins $engine_instance/aclk] \
    [get_bd_pins $dma_instance/s_axi_lite_aclk] [get_bd_pins $dma_instance/m_axi_mm2s_aclk] \
    [get_bd_pins $dma_instance/m_axi_s2mm_aclk] \
    [get_bd_pins ctrl_interconnect/ACLK] [get_bd_pins ctrl_interconnect/S00_ACLK] \
    [get_bd_pins ctrl_interconnect/M00_ACLK] [get_bd_pins ctrl_interconnect/M01_ACLK] \
    [get_bd_pins mem_interconnect/ACLK] [get_bd_pins mem_interconnect/S00_ACLK] \
    [get_bd_pins mem_interconnect/S01_ACLK] [get_bd_pins mem_interconnect/M00_ACLK]
# Resets: the PS's fabric reset, synchronised by proc_sys_reset; interconnect cores get its
# interconnect reset, everything else its peripheral reset.
connect_bd_net [get_bd_pins $ps_instance/[dict get $family resetn]] [get_bd_pins fabric_reset/ext_reset_in]
connect_bd_net [get_bd_pins fabric_reset/interconnect_aresetn] \
    [get_bd_pins ctrl_interconnect/ARESETN] [get_bd_pins mem_interconnect/ARESETN]
connect_bd_net [get_bd_pins fabric_reset/peripheral_aresetn] \
    [get_bd_pins $engine_instance/aresetn] [get_bd_pins $dma_instance/axi_resetn] \
    [get_bd_pins ctrl_interconnect/S00_ARESETN] [get_bd_pins ctrl_interconnect/M00_ARESETN] \
    [get_bd_pins ctrl_interconnect/M01_ARESETN] [get_bd_pins mem_interconnect/S00_ARESETN] \
    [get_bd_pins mem_interconnect/S01_ARESETN] [get_bd_pins mem_interconnect/M00_ARESETN]
# The engine's irq and the DMA's mm2s_introut/s2mm_introut stay unconnected: the manifest
# lists no interrupt.

# Addresses: the two register windows exactly where the manifest puts them, then the rest
# (the DMA's masters see DDR through the HP port) assigned automatically.
assign_bd_address -offset $dma_base -range $dma_range \
    -target_address_space [get_bd_addr_spaces $ps_instance/Data] \
    [get_bd_addr_segs $dma_instance/$dma_interface/Reg] -force
assign_bd_address -offset $engine_base -range $engine_range \
    -target_address_space [get_bd_addr_spaces $ps_instance/Data] \
    [get_bd_addr_segs $engine_instance/$engine_interface/reg0] -force
assign_bd_address

validate_bd_design

# What Vivado made of it must still be the manifest.
check_config $dma_instance $dma_params
check_config $engine_instance [engine_config $engine_generics]
check_address $ps_instance/Data $dma_instance $dma_base $dma_range
check_address $ps_instance/Data $engine_instance $engine_base $engine_range
set ps_cell [get_bd_cells $ps_instance]
set achieved [get_property CONFIG.[dict get $family actual] $ps_cell]
if {![string is double -strict $achieved]} {
    puts "WARNING: cannot read back the fabric clock Vivado achieved ([dict get $family actual] = '$achieved')"
} elseif {abs($achieved - $fclk_mhz) > 0.001 * $fclk_mhz} {
    error "fabric clock: Vivado achieved $achieved MHz, the manifest and CLOCK_KHZ say $fclk_mhz MHz"
}
if {round(1000.0 * $fclk_mhz) != [dict get $engine_generics CLOCK_KHZ]} {
    error "CLOCK_KHZ [dict get $engine_generics CLOCK_KHZ] is not the fabric clock $fclk_mhz MHz"
}
set divisors [list [get_property CONFIG.[dict get $family divisor0] $ps_cell] \
                   [get_property CONFIG.[dict get $family divisor1] $ps_cell]]
if {$divisors ne [list $fclk_divisor0 $fclk_divisor1]} {
    puts "WARNING: Vivado divides the $fclk_source by $divisors, the manifest states\
          $fclk_divisor0 $fclk_divisor1: update fabric_clock in overlays/$board/manifest.json"
}
save_bd_design
if {$bd_only} {
    puts "Block design saved: [get_files $bd_name.bd] (--bd-only: no implementation)"
    return
}

# ---- 4. synthesis, implementation, bitstream ---------------------------------------------------
set bd_file [get_files $bd_name.bd]
generate_target all $bd_file
add_files -norecurse [make_wrapper -files $bd_file -top]
set_property top ${bd_name}_wrapper [current_fileset]
update_compile_order -fileset sources_1

launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
set impl [get_runs impl_1]
if {[get_property PROGRESS $impl] ne "100%"} {
    error "implementation did not complete: [get_property STATUS $impl] (logs under [get_property DIRECTORY $impl])"
}
open_run impl_1
report_utilization -file [file join $build_dir utilization.rpt]
report_utilization -hierarchical -file [file join $build_dir utilization_hierarchical.rpt]
report_timing_summary -file [file join $build_dir timing_summary.rpt]
# also on the console: the signed-off figures next to the project's estimate (docs/timing.md)
puts [report_timing_summary -max_paths 5 -return_string]
set wns [get_property STATS.WNS $impl]
set whs [get_property STATS.WHS $impl]
if {$wns < 0 || $whs < 0} {
    error "timing not met at $fclk_mhz MHz (WNS $wns ns, WHS $whs ns): see [file join $build_dir timing_summary.rpt];\
           nothing copied to $out_dir"
}

# ---- 5. outputs, renamed to the manifest's files ----------------------------------------------
set bit [file join [get_property DIRECTORY $impl] ${bd_name}_wrapper.bit]
set hwh [lindex [glob -nocomplain \
    [file join $build_dir project $bd_name.gen sources_1 bd $bd_name hw_handoff $bd_name.hwh] \
    [file join $build_dir project $bd_name.srcs sources_1 bd $bd_name hw_handoff $bd_name.hwh]] 0]
if {![file exists $bit] || $hwh eq ""} {
    error "no bitstream ($bit) or hardware handoff under [file join $build_dir project]"
}
file mkdir $out_dir
file copy -force $bit [file join $out_dir $bitstream_file]
file copy -force $hwh [file join $out_dir $hwh_file]
puts "Overlay built: [file join $out_dir $bitstream_file], [file join $out_dir $hwh_file]\
      (WNS $wns ns at $fclk_mhz MHz; reports in $build_dir)"
