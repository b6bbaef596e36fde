"""The Vivado overlay build (hw_src/vivado) against the overlay manifests, the board profiles and
the register map.

No Vivado here: the scripts run in Python's Tcl interpreter (tkinter) with Vivado's commands
stubbed (STUBS below), and every command they run is recorded with its words substituted (procs'
bodies included), so every value compared is one the scripts would hand to Vivado, and a misspelt
variable or a wrong argument count fails the run. Tcl is required, not optional: where Python
lacks tkinter, `make hdl-tools` installs it (Debian's python3-tk).
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import tkinter
from pathlib import Path
from typing import NamedTuple

import pytest

from msp_pynq.boards.profiles import get_profile
from msp_pynq.emulation.hwh import REGISTER_ACCESS
from msp_pynq.engine.registers import ENGINE_VLNV, WINDOW_BYTES, Reg
from msp_pynq.runtime.overlays import DMA_VLNV

ROOT = Path(__file__).resolve().parents[2]
VIVADO = ROOT / "hw_src" / "vivado"
BUILD = VIVADO / "build_overlay.tcl"
PACKAGE = VIVADO / "package_ip.tcl"
ENGINE_RTL = ROOT / "hw_src" / "rtl" / "msp_engine.v"
BOARDS = ["pynq-z2", "zcu104"]
#: Manifest parameters of the engine that are fixed in the RTL rather than generics.
ENGINE_FIXED = {"VERSION", "STREAM_WIDTH"}

#: The engine's top-level ports (docs/registers.md: S_AXI, S_AXIS, M_AXIS, irq, one clock and reset).
ENGINE_PORTS = {
    "aclk", "aresetn", "irq",
    *(f"s_axi_{p}" for p in ("awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready",
                             "bresp", "bvalid", "bready", "araddr", "arvalid", "arready",
                             "rdata", "rresp", "rvalid", "rready")),
    *(f"{d}_axis_{p}" for d in ("s", "m") for p in ("tdata", "tkeep", "tlast", "tvalid", "tready")),
}


# ---- Tcl, Vivado's commands stubbed -------------------------------------------------------------
#: Records every command run under ::stub_run, procs' bodies included, its words substituted; a
#: command Tcl does not know reaches ``unknown`` and is recorded under its own name.
RECORDER = r"""
set ::stub_calls {}
proc ::stub_step {command op} {
    if {[lindex $command 0] eq "::unknown"} { set command [lrange $command 1 end] }
    lappend ::stub_calls $command
}
proc ::stub_run {path} { uplevel #0 [list source $path] }
trace add execution ::stub_run enterstep ::stub_step
"""

#: Vivado's commands as the scripts use them: getters give their object (``[get_bd_pins x]`` is
#: ``x``), properties set are read back, address assignments are kept for check_address, and any
#: other command Tcl does not know returns its last word.
STUBS = r"""
array set ::props {}
namespace eval ipx {}
proc version {args} { return 2022.1 }
proc set_property {args} {
    if {[lindex $args 0] eq "-dict"} {
        foreach {k v} [lindex $args 1] { set ::props([lindex $args 2],$k) $v }
    } else {
        set ::props([lindex $args 2],[lindex $args 0]) [lindex $args 1]
    }
}
proc get_property {name object} {
    if {[info exists ::props($object,$name)]} { return $::props($object,$name) }
    switch -glob -- $name {
        *ACT_*FREQMHZ { return $::fclk_mhz }
        *DIVISOR0 { return $::fclk_divisor0 }
        *DIVISOR1 { return $::fclk_divisor1 }
        PROGRESS  { return 100% }
        STATS.*   { return 0.25 }
        DIRECTORY { return $::stub_run_dir }
        OFFSET    { return $::stub_offset($object) }
        RANGE     { return $::stub_range($object) }
    }
    return ""
}
proc assign_bd_address {args} {
    set i [lsearch -exact $args -offset]
    if {$i < 0} { return }
    set segment [lindex $args [expr {[lsearch -exact $args -force] - 1}]]
    set seg SEG_[lindex [split $segment /] 0]
    set ::stub_offset($seg) [lindex $args [expr {$i + 1}]]
    set ::stub_range($seg) [lindex $args [expr {[lsearch -exact $args -range] + 1}]]
}
proc get_bd_addr_segs {args} {
    if {[regexp {NAME =~ SEG_(\S+?)_\*} $args -> instance]} { return [list SEG_$instance] }
    return [lindex $args end]
}
proc get_param {args} { return {} }
proc get_board_parts {args} { return [lindex $args end] }
proc unknown {args} { return [lindex $args end] }
foreach command {current_core get_user_parameters get_hdl_parameters get_bus_interfaces
                 get_memory_maps get_address_blocks get_registers get_port_maps get_bus_parameters} {
    proc ipx::$command {args} { return [lindex $args 0] }
}
foreach command {package_project remove_all_bus_interface remove_all_memory_map add_bus_interface
                 add_port_map add_bus_parameter add_memory_map add_address_block add_register
                 create_xgui_files update_checksums check_integrity save_core} {
    proc ipx::$command {args} {}
}
"""

_LISTS = tkinter.Tcl()            # splits Tcl lists


def tcl_list(text: str) -> "list[str]":
    """The elements of a Tcl list."""
    return list(_LISTS.splitlist(text))


def tcl_dict(text: str) -> dict:
    items = tcl_list(text)
    assert len(items) % 2 == 0, f"not a Tcl dict: {text!r}"
    return dict(zip(items[::2], items[1::2]))


class TclRun(NamedTuple):
    calls: "list[list[str]]"          # every command run, in order, its words substituted
    variables: "dict[str, str]"       # the global variables afterwards (arrays left out)


def run_tcl(path: Path, setup: str = "", **variables: str) -> TclRun:
    """``source path`` in a fresh Tcl interpreter, after the script ``setup`` and setting the
    global ``variables``."""
    tcl = tkinter.Tcl()
    tcl.eval(RECORDER)
    tcl.eval(setup)
    for name, value in variables.items():
        tcl.call("set", f"::{name}", value)
    tcl.call("::stub_run", str(path))
    values = {}
    for name in tcl_list(tcl.eval("info globals")):
        if not name.startswith("stub_") and tcl.eval(f"info exists ::{name}") == "1" \
                and tcl.eval(f"array exists ::{name}") == "0":
            values[name] = tcl.eval(f"set ::{name}")          # eval: the value as a string
    return TclRun([tcl_list(c) for c in tcl_list(tcl.eval("set ::stub_calls"))], values)


def calls(run: TclRun, name: str) -> "list[list[str]]":
    """Every call of command ``name`` in the run, its words substituted."""
    return [words for words in run.calls if words and words[0] == name]


def options(words: "list[str]") -> "tuple[dict, list[str]]":
    """Split a command's words into ``-option value`` pairs and positional words."""
    opts, rest, i = {}, [], 1
    while i < len(words):
        if words[i].startswith("-") and i + 1 < len(words) and not words[i + 1].startswith("-"):
            opts[words[i]] = words[i + 1]
            i += 2
        else:
            rest.append(words[i])
            i += 1
    return opts, rest


# ---- the files ----------------------------------------------------------------------------------
def manifest(board: str) -> dict:
    return json.loads((ROOT / "overlays" / board / "manifest.json").read_text(encoding="utf-8"))


def board_vars(board: str) -> dict:
    return run_tcl(VIVADO / "boards" / f"{board}.tcl").variables


def package_vars() -> dict:
    return run_tcl(PACKAGE, "set msp_package_ip_library_only 1").variables


class Build(NamedTuple):
    run: TclRun
    repo: Path                        # the copy of the repository's layout it ran in


def run_build(board: str, tmp: Path) -> Build:
    """build_overlay.tcl for ``board`` run by Tcl, Vivado's commands stubbed, in a copy of the
    repository's layout (hw_src/vivado, a stand-in msp_engine.v, overlays/<board>) with the
    files Vivado would leave in the project."""
    repo = tmp.resolve() / "repo"
    shutil.copytree(VIVADO, repo / "hw_src" / "vivado")
    (repo / "hw_src" / "rtl").mkdir(parents=True)
    (repo / "hw_src" / "rtl" / "msp_engine.v").write_text("// stand-in\n")
    shutil.copytree(ROOT / "overlays" / board, repo / "overlays" / board)
    project = repo / "build" / "vivado" / board / "project"          # what Vivado would leave there
    run_dir = project / "msp_overlay.runs" / "impl_1"
    run_dir.mkdir(parents=True)
    (run_dir / "msp_overlay_wrapper.bit").write_bytes(b"bit")
    handoff = project / "msp_overlay.gen" / "sources_1" / "bd" / "msp_overlay" / "hw_handoff"
    handoff.mkdir(parents=True)
    (handoff / "msp_overlay.hwh").write_text("<hwh/>")
    run = run_tcl(repo / "hw_src" / "vivado" / "build_overlay.tcl", STUBS,
                  stub_run_dir=str(run_dir), argv=f"{board} 2")
    return Build(run, repo)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """``build(board)``: :func:`run_build` of ``board``, once per module."""
    done = {}

    def get(board: str) -> Build:
        if board not in done:
            done[board] = run_build(board, tmp_path_factory.mktemp(f"build-{board}"))
        return done[board]
    return get


def ip_of(m: dict, vlnv: str) -> "tuple[str, dict]":
    (found,) = [(name, ip) for name, ip in m["ip"].items() if ip["vlnv"] == vlnv]
    return found


def package_interfaces() -> "dict[str, tuple[str, str, dict]]":
    items = tcl_list(package_vars()["msp_engine_interfaces"])
    assert len(items) % 4 == 0
    return {name: (abstraction, mode, tcl_dict(ports))
            for name, abstraction, mode, ports in zip(*[iter(items)] * 4)}


def verilog_header(path: Path, module: str) -> "tuple[list[str], list[str]]":
    """Parameter and port names of ``module`` (ANSI or port-list style header)."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", path.read_text(encoding="utf-8"), flags=re.S)
    i = re.search(rf"\bmodule\s+{module}\b", text).end()

    def group(i):                          # text inside the parenthesis opening at or after i
        i = text.index("(", i)
        depth, j = 0, i
        while True:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            if depth == 0:
                return text[i + 1:j], j + 1
            j += 1

    def names(body, before_eq):
        parts, depth, cur = [], 0, ""
        for c in body:
            depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(c, 0)
            if c == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += c
        parts.append(cur)
        found = []
        for part in parts:
            part = part.split("=")[0] if before_eq else part
            ids = re.findall(r"[A-Za-z_]\w*", re.sub(r"\[[^\]]*\]", " ", part))
            if ids:
                found.append(ids[-1])
        return found

    params: "list[str]" = []
    rest = text[i:].lstrip()
    if rest.startswith("#"):
        body, i = group(text.index("#", i))
        params = names(body, before_eq=True)
    body, _ = group(i)
    return params, names(body, before_eq=False)


# ---- the board files: generated from, and equal to, the manifests -----------------------------
def test_tcl_runs_record_every_command_substituted(tmp_path):
    script = tmp_path / "script.tcl"
    script.write_text('set a {x {y z}}; set b "p $a q" ;# note\n# comment\nset cell c0\n'
                      'foo [get_bd_pins $cell/c] \\\n  -o {1 2}\nproc p {v} { bar $v [lindex $v 1] }\np $b\n')
    run = run_tcl(script, STUBS)
    assert run.variables["b"] == "p x {y z} q" and tcl_list(run.variables["a"]) == ["x", "y z"]
    assert calls(run, "foo") == [["foo", "c0/c", "-o", "1 2"]]            # a Vivado getter gives its object
    assert calls(run, "bar") == [["bar", "p x {y z} q", "x"]]            # in a proc's body
    assert tcl_dict("k {v w}\n  l m") == {"k": "v w", "l": "m"}
    script.write_text("set a {b")
    with pytest.raises(tkinter.TclError):
        run_tcl(script)
    script.write_text("foo $no_such_variable")                         # what reading the Tcl would miss
    with pytest.raises(tkinter.TclError, match="no_such_variable"):
        run_tcl(script, STUBS)


@pytest.mark.parametrize("board", BOARDS)
def test_board_file_is_generated_from_the_manifest(board):
    spec = importlib.util.spec_from_file_location("board_tcl", VIVADO / "board_tcl.py")
    board_tcl = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(board_tcl)
    assert board_tcl.boards() == BOARDS
    written = (VIVADO / "boards" / f"{board}.tcl").read_text(encoding="utf-8")
    assert written == board_tcl.render(board), (
        f"hw_src/vivado/boards/{board}.tcl is stale: run `python3 hw_src/vivado/board_tcl.py`")


@pytest.mark.parametrize("board", BOARDS)
def test_board_values_are_the_manifest(board):
    m, v = manifest(board), board_vars(board)
    ps, clk = m["processing_system"], m["fabric_clock"]
    assert (v["board"], v["part"], v["board_part"], v["arch"]) == (
        m["board"], m["part"], m["board_part"], m["systeminfo"]["arch"])
    assert (v["bitstream_file"], v["hwh_file"]) == (m["files"]["bitstream"], m["files"]["hwh"])
    assert (v["ps_instance"], v["ps_vlnv"], v["ps_control_master"], v["ps_data_slave"]) == (
        ps["instance"], ps["vlnv"], ps["control_master"], ps["data_slave"])
    assert int(v["ps_data_width"]) == ps["data_width"]
    assert [int(v["control_low"], 16), int(v["control_high"], 16)] == [int(x, 16) for x in ps["control_window"]]
    assert (v["fclk_name"], float(v["fclk_mhz"]), v["fclk_source"]) == (clk["name"], clk["mhz"], clk["source"])
    assert (int(v["fclk_divisor0"]), int(v["fclk_divisor1"])) == (clk["divisor0"], clk["divisor1"])
    for role, vlnv in (("dma", DMA_VLNV), ("engine", ENGINE_VLNV)):
        name, ip = ip_of(m, vlnv)
        assert (v[f"{role}_instance"], v[f"{role}_vlnv"], v[f"{role}_interface"]) == (
            name, ip["vlnv"], ip["interface"])
        assert int(v[f"{role}_base"], 16) == int(ip["base_address"], 16)
        assert int(v[f"{role}_range"], 16) == int(ip["range"], 16)
    assert tcl_dict(v["dma_params"]) == ip_of(m, DMA_VLNV)[1]["parameters"]
    assert [tuple(tcl_list(s)) for s in tcl_list(v["streams"])] == [(s["from"], s["to"]) for s in m["streams"]]


@pytest.mark.parametrize("board", BOARDS)
def test_engine_generics_are_the_manifest_and_the_board_profile(board):
    m, v, p = manifest(board), board_vars(board), get_profile(board)
    generics = {k: int(x, 0) for k, x in tcl_dict(v["engine_generics"]).items()}
    params = ip_of(m, ENGINE_VLNV)[1]["parameters"]
    assert generics == {k: int(x, 0) for k, x in params.items() if k not in ENGINE_FIXED}
    assert generics == {
        "VECTOR_WIDTH": p.geometry.vector_width, "LUT_ROWS": p.geometry.lut_rows, "DSP_ROWS": p.geometry.dsp_rows,
        "ACT_BUF_KIB": p.geometry.act_buffer_kib, "WGT_BUF_KIB": p.geometry.weight_buffer_kib,
        "FINGERPRINT": int(p.fingerprint[:8], 16), "CLOCK_KHZ": round(p.clock_mhz * 1000)}
    assert float(v["fclk_mhz"]) == p.clock_mhz
    assert list(generics) == list(tcl_dict(package_vars()["msp_engine_generics"]))   # packaged as generics
    if ENGINE_RTL.exists():
        rtl_params, _ = verilog_header(ENGINE_RTL, "msp_engine")
        assert set(generics) <= set(rtl_params), f"msp_engine.v parameters: {rtl_params}"
        assert not ENGINE_FIXED & set(rtl_params), "VERSION/STREAM_WIDTH are fixed in the RTL"


# ---- the build script: addresses, configuration, connections ---------------------------------
@pytest.mark.parametrize("board", BOARDS)
def test_addresses_are_the_manifest(board, build):
    m = manifest(board)
    assigned = {}
    for words in calls(build(board).run, "assign_bd_address"):
        opts, rest = options(words)
        if "-offset" in opts:
            (segment,) = [w for w in rest if w != "-force"]
            assigned[segment] = (int(opts["-offset"], 16), int(opts["-range"], 16),
                                 opts["-target_address_space"])
    want = {}
    for name, ip in m["ip"].items():
        (segment,) = [s for s in assigned if s.startswith(f"{name}/{ip['interface']}/")]
        want[segment] = (int(ip["base_address"], 16), int(ip["range"], 16),
                         f"{m['processing_system']['instance']}/Data")
    assert assigned == want
    low, high = (int(x, 16) for x in m["processing_system"]["control_window"])
    windows = sorted((base, base + size) for base, size, _ in assigned.values())
    assert all(low <= a and b - 1 <= high and a % size == 0
               for (a, b), size in zip(windows, (b - a for a, b in windows)))
    assert all(b <= a2 for (_, b), (a2, _) in zip(windows, windows[1:])), "windows overlap"


def test_engine_window_is_the_register_window():
    assert max(Reg) + 4 <= WINDOW_BYTES == 0x1000
    for board in BOARDS:
        assert int(board_vars(board)["engine_range"], 16) == WINDOW_BYTES
    pkg = package_vars()
    assert int(pkg["msp_engine_window_bytes"]) == WINDOW_BYTES
    items = tcl_list(pkg["msp_engine_registers"])
    registers = {name: (int(offset, 16), access) for name, offset, access in zip(*[iter(items)] * 3)}
    assert registers == {r.name: (int(r), REGISTER_ACCESS.get(r, "read-write")) for r in Reg}
    assert all(offset + 4 <= WINDOW_BYTES for offset, _ in registers.values())


@pytest.mark.parametrize("board", BOARDS)
def test_build_sets_and_then_checks_the_manifest_configuration(board, build):
    v, run = board_vars(board), build(board).run
    created = {words[-1]: options(words)[0]["-vlnv"] for words in calls(run, "create_bd_cell")}
    m = manifest(board)
    for name, ip in m["ip"].items():
        assert created[name] == ip["vlnv"]
    assert created[m["processing_system"]["instance"]] == m["processing_system"]["vlnv"]
    # Vivado fails the build unless every parameter kept the manifest's value (check_config).
    checked = {words[1]: words[2] for words in calls(run, "check_config")}
    assert tcl_dict(checked[v["dma_instance"]]) == ip_of(m, DMA_VLNV)[1]["parameters"]
    configured = {}
    for words in calls(run, "set_config"):
        if len(words) == 3:
            configured.setdefault(words[1], {}).update(tcl_dict(words[2]))
    assert {v["dma_instance"], v["engine_instance"]} <= set(configured)
    # the engine is checked against the configuration it was given (engine_config of its generics)
    engine = tcl_dict(checked[v["engine_instance"]])
    assert engine == configured[v["engine_instance"]]
    assert {k: int(x, 0) for k, x in engine.items()} == {
        k: int(x, 0) for k, x in ip_of(m, ENGINE_VLNV)[1]["parameters"].items() if k not in ENGINE_FIXED}
    checked_addresses = {words[2]: (int(words[3], 16), int(words[4], 16))
                         for words in calls(run, "check_address")}
    assert checked_addresses == {name: (int(ip["base_address"], 16), int(ip["range"], 16))
                                 for name, ip in m["ip"].items()}


@pytest.mark.parametrize("board", BOARDS)
def test_streams_are_the_manifest(board, build):
    v = board_vars(board)
    ends = {v["dma_instance"], v["engine_instance"]}       # stream ends: neither the PS nor an interconnect
    connected = [tuple(words[1:]) for words in calls(build(board).run, "connect_bd_intf_net")
                 if {end.split("/")[0] for end in words[1:]} <= ends]
    assert connected == [(s["from"], s["to"]) for s in manifest(board)["streams"]]
    interfaces = package_interfaces()
    for a, b in connected:             # the engine's end is a stream interface it declares
        for end in (a, b):
            cell, pin = end.split("/")
            if cell == v["engine_instance"]:
                assert interfaces[pin][0] == "xilinx.com:interface:axis_rtl:1.0"
                assert interfaces[pin][1] == ("slave" if end == b else "master")


@pytest.mark.parametrize("board", BOARDS)
def test_control_and_memory_paths(board, build):
    """PS control master -> interconnect -> both register windows; DMA masters -> interconnect ->
    PS data slave; the PS ports and fabric clock are ones the script knows how to configure."""
    v, run = board_vars(board), build(board).run
    edges = [tuple(words[1:]) for words in calls(run, "connect_bd_intf_net") if len(words) == 3]
    hub = {}                           # interconnect cell -> pins of other cells on it
    for a, b in edges:
        for x, y in ((a, b), (b, a)):
            if x.split("/")[0].endswith("_interconnect"):
                hub.setdefault(x.split("/")[0], set()).add(y)
    ps = v["ps_instance"]
    (ctrl,) = [h for h, pins in hub.items() if f"{ps}/{v['ps_control_master']}" in pins]
    assert hub[ctrl] == {f"{ps}/{v['ps_control_master']}", f"{v['dma_instance']}/{v['dma_interface']}",
                         f"{v['engine_instance']}/{v['engine_interface']}"}
    (mem,) = [h for h, pins in hub.items() if f"{ps}/{v['ps_data_slave']}" in pins]
    assert hub[mem] == {f"{ps}/{v['ps_data_slave']}", f"{v['dma_instance']}/M_AXI_MM2S",
                        f"{v['dma_instance']}/M_AXI_S2MM"}
    tables = run.variables
    ports = tcl_dict(tcl_dict(tables["ps_ports"])[v["arch"]])
    assert v["ps_control_master"] in ports and v["ps_data_slave"] in ports
    family = tcl_dict(tcl_dict(tables["ps_family"])[v["arch"]])
    assert family["fclk"] == v["fclk_name"]
    assert v["ps_vlnv"].split(":")[2] in family["rule"]        # processing_system7 / zynq_ultra_ps_e


@pytest.mark.parametrize("board", BOARDS)
def test_no_interrupt_is_wired(board, build):
    assert manifest(board)["interrupts"] == {}
    wired = " ".join(" ".join(words) for words in calls(build(board).run, "connect_bd_net"))
    assert not re.search(r"/irq\b|introut|IRQ_F2P|pl_ps_irq", wired), wired


def test_every_engine_port_is_mapped_to_a_declared_interface():
    interfaces = package_interfaces()
    mapped = [port for _, _, ports in interfaces.values() for port in ports.values()]
    assert len(mapped) == len(set(mapped)), "a port mapped twice"
    assert set(mapped) == ENGINE_PORTS
    for board in BOARDS:
        assert board_vars(board)["engine_interface"] in interfaces
    assert interfaces["S_AXI"][:2] == ("xilinx.com:interface:aximm_rtl:1.0", "slave")
    assert interfaces["aclk"][2] == {"CLK": "aclk"} and interfaces["aresetn"][2] == {"RST": "aresetn"}
    bus = {name: tcl_dict(params) for name, params in tcl_dict(package_vars()["msp_engine_bus_parameters"]).items()}
    assert set(bus["aclk"]["ASSOCIATED_BUSIF"].split(":")) == {"S_AXI", "S_AXIS", "M_AXIS"}
    assert bus["aresetn"]["POLARITY"] == "ACTIVE_LOW"
    pkg = package_vars()
    assert ":".join(pkg[f"msp_engine_{k}"] for k in ("vendor", "library", "name", "version")) == ENGINE_VLNV
    if ENGINE_RTL.exists():
        _, ports = verilog_header(ENGINE_RTL, "msp_engine")
        assert set(ports) == ENGINE_PORTS, f"msp_engine.v ports: {sorted(set(ports) ^ ENGINE_PORTS)}"


@pytest.mark.parametrize("board", BOARDS)
def test_outputs_are_the_manifest_files(board, build):
    b, m = build(board), manifest(board)
    v = b.run.variables
    assert v["bd_name"] != "msp_engine"            # the block design's module would clash with the engine's
    out = b.repo / "overlays" / board
    copies = [words for words in calls(b.run, "file") if words[1] == "copy"]
    assert [w[-1] for w in copies] == [str(out / m["files"]["bitstream"]), str(out / m["files"]["hwh"])]
    assert v["out_dir"] == str(out)


# ---- the Makefile -----------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_overlay_runs_vivado_and_fails_clearly_without_it():
    dry = subprocess.run(["make", "-n", "overlay", "BOARD=zcu104", "VIVADO=vivado"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert "vivado -mode batch" in dry and "-source hw_src/vivado/build_overlay.tcl -tclargs zcu104" in dry
    assert "board_tcl.py --check zcu104" in dry
    missing = subprocess.run(["make", "overlay", "BOARD=zcu104", "VIVADO=no-such-vivado-here"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0
    assert "'no-such-vivado-here' is not on PATH" in missing.stderr and "Vivado 2022.1" in missing.stderr
    assert "make overlay BOARD=zcu104" in missing.stderr
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    assert {"overlay", "overlays"} <= set(phony)


# ---- the build script run by Tcl, Vivado's commands stubbed -----------------------------------
@pytest.mark.parametrize("board", BOARDS)
def test_build_script_runs_with_vivado_stubbed(board, build):
    """The whole script, as Tcl runs it, in a copy of the repository's layout: the calls Vivado
    would get carry the manifest's addresses, parameters and streams, and the outputs land as
    overlays/<board>/<manifest files>."""
    b = build(board)
    recorded = b.run.calls
    m = manifest(board)
    ps = m["processing_system"]["instance"]
    assigned = {c[-2]: (int(c[2], 16), int(c[4], 16), c[6]) for c in recorded
                if c[0] == "assign_bd_address" and len(c) > 1}
    assert assigned == {f"{name}/{ip['interface']}/{'reg0' if ip['vlnv'] == ENGINE_VLNV else 'Reg'}":
                        (int(ip["base_address"], 16), int(ip["range"], 16), f"{ps}/Data")
                        for name, ip in m["ip"].items()}
    config = {}
    for c in recorded:
        if c[0] == "set_property" and c[1] == "-dict":
            config.setdefault(c[3], {}).update(tcl_dict(c[2]))
    dma_name, dma = ip_of(m, DMA_VLNV)
    assert config[dma_name] == {f"CONFIG.{k}": x for k, x in dma["parameters"].items()}
    engine_name, engine = ip_of(m, ENGINE_VLNV)
    assert {k: int(x, 0) for k, x in config[engine_name].items()} == {
        f"CONFIG.{k}": int(x, 0) for k, x in engine["parameters"].items() if k not in ENGINE_FIXED}
    assert float(config[ps][[k for k in config[ps] if k.endswith("FREQMHZ")][0]]) == m["fabric_clock"]["mhz"]
    streams = [tuple(c[1:]) for c in recorded if c[0] == "connect_bd_intf_net"
               and {x.split("/")[0] for x in c[1:]} == {dma_name, engine_name}]
    assert streams == [(s["from"], s["to"]) for s in m["streams"]]
    assert [c[2] for c in recorded if c[0] == "create_project"] == ["msp_engine_package", "msp_overlay"]
    out = b.repo / "overlays" / board
    assert (out / m["files"]["bitstream"]).read_bytes() == b"bit"
    assert (out / m["files"]["hwh"]).read_text() == "<hwh/>"
