"""Overlay manifests (``overlays/<board>/manifest.json``) and their check against a loaded .hwh.

The manifest names what the runtime expects of the block design: the AXI DMA and engine
instances, their base addresses and ranges, the DMA's parameters, the engine's VLNV and the
fabric clock. The emulated device writes its .hwh from it; on a board, :func:`check_ip_dict`
compares it with pynq's ``Overlay.ip_dict`` before anything is driven.

Where the runtime looks for ``<board>/manifest.json`` and the overlay's .bit/.hwh, in order
(:func:`overlay_search_path`): ``$MSP_PYNQ_OVERLAYS``, the repository's ``overlays`` folder (a
checkout or an editable install), and ``share/msp-pynq/overlays`` where setup.py installs it (the
venv's, e.g. ``/usr/local/share/pynq-venv/share/msp-pynq/overlays`` on a PYNQ image). The first
folder that holds the built overlay wins; without one, the first manifest found serves the
emulation, and :func:`missing_overlay_reason` says where the .bit/.hwh were looked for.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..boards.profiles import get_profile
from ..datafiles import install_data_dirs, repository_root
from ..engine.registers import ENGINE_VLNV
from ..errors import MSPError
from ..fileio import read_bounded, show, strict_json
from .errors import OverlayMismatch

MANIFEST_FORMAT = "msp-pynq-overlay/1"
DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
OVERLAYS_ENV = "MSP_PYNQ_OVERLAYS"
MAX_MANIFEST_BYTES = 1 << 20          # the shipped manifests are about 2 KB
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")      # an IP instance or port name
_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # a file name inside the overlay folder


def overlay_search_path() -> "list[Path]":
    """The overlays folders searched for ``<board>/``, in order: ``$MSP_PYNQ_OVERLAYS`` (when
    set), the repository's ``overlays`` (from a checkout), the installed ``share/msp-pynq/overlays``.

    >>> overlay_search_path()[-1].parts[-3:]
    ('share', 'msp-pynq', 'overlays')
    """
    env = os.environ.get(OVERLAYS_ENV)
    repo = repository_root()
    return list(dict.fromkeys(([Path(env)] if env else []) + ([repo / "overlays"] if repo else [])
                              + [d / "overlays" for d in install_data_dirs()]))


@dataclass(frozen=True)
class IpSpec:
    """One IP of the block design as the manifest states it."""

    name: str
    vlnv: str
    base_address: int
    range: int
    interface: str
    parameters: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OverlayManifest:
    """A parsed ``manifest.json``; ``directory`` is where the .bit/.hwh belong."""

    board: str
    part: str
    arch: str
    bitstream: str
    hwh: str
    built: bool
    clock_mhz: float
    ips: "dict[str, IpSpec]"
    raw: dict
    directory: Path
    searched: "tuple[Path, ...]" = ()      # the overlays folders looked in, for error messages

    @property
    def dma(self) -> IpSpec:
        return self._only(DMA_VLNV)

    @property
    def engine(self) -> IpSpec:
        return self._only(ENGINE_VLNV)

    def _only(self, vlnv: str) -> IpSpec:
        found = [ip for ip in self.ips.values() if ip.vlnv == vlnv]
        if len(found) != 1:
            raise OverlayMismatch(f"{self.directory / 'manifest.json'}: expected one {vlnv} IP, "
                                  f"found {len(found)}")
        return found[0]

    @property
    def bitstream_path(self) -> Path:
        return self.directory / self.bitstream

    @property
    def hwh_path(self) -> Path:
        return self.directory / self.hwh

    @property
    def missing_files(self) -> "list[str]":
        """The overlay files (.bit, .hwh) not in ``directory``; pynq needs both on a board."""
        return [p.name for p in (self.bitstream_path, self.hwh_path) if not p.is_file()]

    @property
    def installed(self) -> bool:
        """Whether ``directory`` holds the built overlay (its .bit and its .hwh)."""
        return not self.missing_files


def load_overlay_manifest(board: str, overlay_dir: "str | Path | None" = None) -> OverlayManifest:
    """Read and check ``<overlays folder>/<board>/manifest.json``.

    With ``overlay_dir``, that folder alone; otherwise the folders of :func:`overlay_search_path`:
    the first whose ``<board>/`` holds the built overlay, else the first with a manifest (enough
    for the emulation).

    >>> m = load_overlay_manifest("zcu104")
    >>> m.directory.name, m.bitstream, m.directory.parent in m.searched
    ('zcu104', 'msp_engine.bit', True)
    """
    profile = get_profile(board)
    searched = (Path(overlay_dir),) if overlay_dir is not None else tuple(overlay_search_path())
    first = None
    for folder in searched:
        if overlay_dir is None and not (folder / profile.name / "manifest.json").is_file():
            continue
        manifest = _read_manifest(profile.name, folder / profile.name, searched)
        if manifest.installed:
            return manifest
        first = first or manifest
    if first is None:
        raise OverlayMismatch(f"no overlay manifest for board {profile.name!r}: no {profile.name}/manifest.json "
                              f"in " + ", ".join(str(d) for d in searched))
    return first


def _read_manifest(board: str, directory: Path, searched: "tuple[Path, ...]") -> OverlayManifest:
    path = directory / "manifest.json"
    if not path.exists():
        raise OverlayMismatch(f"no overlay manifest for board {board!r}: {show(path)} not found")
    try:
        raw = strict_json(read_bounded(path, MAX_MANIFEST_BYTES, "overlay manifest"), str(path))
    except MSPError as exc:
        text = str(exc)
        raise OverlayMismatch(text.replace("not valid JSON", "not JSON", 1)) from None
    manifest = _parse_manifest(raw, board, path, directory, searched)
    _ = manifest.dma, manifest.engine      # each raises unless the manifest has exactly one
    return manifest


def _field(where: str, obj, key: str, kind, what: str):
    """``obj[key]`` if ``obj`` is a dict holding a value of ``kind`` there; else OverlayMismatch
    naming ``where`` (the file and the field's path)."""
    if not isinstance(obj, dict) or key not in obj:
        raise OverlayMismatch(f"{where}: field {key!r} missing (expected {what})")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise OverlayMismatch(f"{where}.{key}: expected {what}, found {type(value).__name__} {show(repr(value)[:80])}")
    return value


def _kinds(kind) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def _text(where: str, obj, key: str, pattern: "re.Pattern | None" = None, what: str = "a string") -> str:
    value = _field(where, obj, key, str, what)
    if pattern is not None and not pattern.fullmatch(value):
        raise OverlayMismatch(f"{where}.{key}: expected {what}, found {show(repr(value)[:80])}")
    return value


def _hex(where: str, obj, key: str) -> int:
    value = _text(where, obj, key, re.compile(r"0[xX][0-9A-Fa-f]{1,16}"), "a hex string such as \"0x40000000\"")
    return int(value, 16)


def _parse_manifest(raw, board: str, path: Path, directory: Path, searched: "tuple[Path, ...]") -> OverlayManifest:
    """Every field the runtime, the emulated device and the .hwh writer read, type-checked."""
    w = str(path)
    if not isinstance(raw, dict):
        raise OverlayMismatch(f"{w}: expected a JSON object, found {type(raw).__name__}")
    fmt = _text(w, raw, "format")
    if fmt != MANIFEST_FORMAT:
        raise OverlayMismatch(f"{w}: format {fmt!r}, expected {MANIFEST_FORMAT!r}")
    if _text(w, raw, "board") != board:
        raise OverlayMismatch(f"{w}: manifest of board {raw['board']!r}, not {board!r}")
    _text(w, raw, "part")
    if "board_part" in raw:
        _text(w, raw, "board_part")
    si = _field(w, raw, "systeminfo", dict, "an object")
    for key in ("arch", "device", "package", "speedgrade"):
        _text(f"{w}: systeminfo", si, key)
    ps = _field(w, raw, "processing_system", dict, "an object")
    _text(f"{w}: processing_system", ps, "instance", _NAME, "an instance name")
    _text(f"{w}: processing_system", ps, "control_master", _NAME, "an interface name")
    files = _field(w, raw, "files", dict, "an object")
    names = {key: _text(f"{w}: files", files, key, _FILE, "a file name in the overlay folder (no path)")
             for key in ("bitstream", "hwh")}
    built = _field(f"{w}: files", files, "built", bool, "true or false") if "built" in files else False
    clk = _field(w, raw, "fabric_clock", dict, "an object")
    mhz = _field(f"{w}: fabric_clock", clk, "mhz", (int, float), "a number of MHz")
    if not (math.isfinite(mhz) and 0 < mhz <= 1000):
        raise OverlayMismatch(f"{w}: fabric_clock.mhz: expected a number of MHz in (0, 1000], found {mhz!r}")
    _text(f"{w}: fabric_clock", clk, "source")
    for key in ("divisor0", "divisor1"):
        _field(f"{w}: fabric_clock", clk, key, int, "a whole number")
    ips = {}
    for name, ip in _field(w, raw, "ip", dict, "an object of IP instances").items():
        where = f"{w}: ip.{name}"
        if not _NAME.fullmatch(name):
            raise OverlayMismatch(f"{w}: ip: {show(repr(name)[:80])} is not an instance name")
        if not isinstance(ip, dict):
            raise OverlayMismatch(f"{where}: expected an object, found {type(ip).__name__}")
        params = _field(where, ip, "parameters", dict, "an object") if "parameters" in ip else {}
        for key, value in params.items():
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise OverlayMismatch(f"{where}.parameters.{key}: expected a string or number, "
                                      f"found {type(value).__name__}")
        ips[name] = IpSpec(name=name, vlnv=_text(where, ip, "vlnv", re.compile(r"[^:\s]+(:[^:\s]+){3}"),
                                                   "a VLNV such as \"vendor:lib:name:1.0\""),
                           base_address=_hex(where, ip, "base_address"), range=_hex(where, ip, "range"),
                           interface=_text(where, ip, "interface", _NAME, "an interface name"),
                           parameters=dict(params))
    streams = _field(w, raw, "streams", list, "a list") if "streams" in raw else []
    port = re.compile(r"[A-Za-z_][A-Za-z0-9_]*/[A-Za-z_][A-Za-z0-9_]*")
    for i, link in enumerate(streams):
        for key in ("from", "to"):
            _text(f"{w}: streams[{i}]", link, key, port, "\"instance/PORT\"")
    return OverlayManifest(board=board, part=raw["part"], arch=si["arch"], bitstream=names["bitstream"],
                           hwh=names["hwh"], built=built, clock_mhz=float(mhz), ips=ips, raw=raw,
                           directory=directory, searched=searched)


def missing_overlay_reason(manifest: OverlayManifest) -> str:
    """Why ``manifest``'s overlay cannot drive a board here, where its files were looked for and
    what to do: the message of ``BoardNotFound`` and the reason of the emulated fallback.

    >>> missing_overlay_reason(load_overlay_manifest("pynq-z2")).split(":")[0]
    'overlay msp_engine.bit is not built or not installed here'
    """
    board, bit, hwh = manifest.board, manifest.bitstream, manifest.hwh
    looked = "; ".join(_folder_state(folder / board, manifest) for folder in manifest.searched)
    env = "" if os.environ.get(OVERLAYS_ENV) else f" (${OVERLAYS_ENV} is not set)"
    return (f"overlay {bit} is not built or not installed here: looked for {bit} and {hwh} in "
            f"{looked}{env}. Build them with `make overlay BOARD={board}` on a machine with Vivado "
            f"2022.1 (overlays/README.md) and copy both into one of those folders, or set "
            f"${OVERLAYS_ENV} to a folder whose {board}/ holds them and manifest.json")


def _folder_state(directory: Path, manifest: OverlayManifest) -> str:
    if not directory.is_dir():
        return f"{directory} (no such folder)"
    missing = [name for name in (manifest.bitstream, manifest.hwh, "manifest.json")
               if not (directory / name).is_file()]
    return f"{directory} (" + (f"no {', no '.join(missing)}" if missing else "complete") + ")"


def check_ip_dict(manifest: OverlayManifest, ip_dict: dict) -> None:
    """Raise :class:`OverlayMismatch` unless pynq's ``ip_dict`` holds every manifest IP as stated.

    Checked per IP: present, same VLNV, same base address and range; for the AXI DMA also every
    parameter the manifest lists (pynq's driver reads them: simple mode, widths, DRE).
    """
    problems = []
    for name, ip in manifest.ips.items():
        desc = ip_dict.get(name)
        if desc is None:
            problems.append(f"{name}: missing (the .hwh has {sorted(ip_dict)})")
            continue
        if desc.get("type") != ip.vlnv:
            problems.append(f"{name}: VLNV {desc.get('type')!r}, expected {ip.vlnv!r}")
        if desc.get("phys_addr") != ip.base_address:
            problems.append(f"{name}: base address {desc.get('phys_addr')!r}, expected 0x{ip.base_address:X}")
        if desc.get("addr_range") != ip.range:
            problems.append(f"{name}: range {desc.get('addr_range')!r}, expected 0x{ip.range:X}")
        if ip.vlnv == DMA_VLNV:
            params = desc.get("parameters", {})
            for key, want in ip.parameters.items():
                if str(params.get(key)) != str(want):
                    problems.append(f"{name}: parameter {key} = {params.get(key)!r}, expected {want!r}")
    if problems:
        raise OverlayMismatch(f"overlay does not match {manifest.directory / 'manifest.json'}: "
                              + "; ".join(problems))
