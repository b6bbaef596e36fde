"""Overlay manifests (``overlays/<board>/manifest.json``) and their check against a loaded .hwh.

The manifest names what the runtime expects of the block design: the AXI DMA and engine
instances, their base addresses and ranges, the DMA's parameters, the engine's VLNV and the
fabric clock. The emulated device writes its .hwh from it; on a board, :func:`check_ip_dict`
compares it with pynq's ``Overlay.ip_dict`` before anything is driven.

The overlays folder is ``<repository>/overlays`` unless ``MSP_PYNQ_OVERLAYS`` names another.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..boards.profiles import get_profile
from .errors import OverlayMismatch
from .registers import ENGINE_VLNV

MANIFEST_FORMAT = "msp-pynq-overlay/1"
DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"


def default_overlay_dir() -> Path:
    """``$MSP_PYNQ_OVERLAYS``, else the repository's ``overlays`` folder (a source checkout or an
    editable install), else ``<sys.prefix>/share/msp-pynq/overlays`` (where setup.py installs it)."""
    env = os.environ.get("MSP_PYNQ_OVERLAYS")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2] / "overlays"
    return repo if repo.is_dir() else Path(sys.prefix) / "share" / "msp-pynq" / "overlays"


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


def load_manifest(board: str, overlay_dir: "str | Path | None" = None) -> OverlayManifest:
    """Read and check ``<overlay_dir>/<board>/manifest.json``."""
    profile = get_profile(board)
    directory = Path(overlay_dir or default_overlay_dir()) / profile.name
    path = directory / "manifest.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OverlayMismatch(f"no overlay manifest for board {profile.name!r}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise OverlayMismatch(f"{path}: not JSON ({exc})") from None
    try:
        if raw["format"] != MANIFEST_FORMAT:
            raise OverlayMismatch(f"{path}: format {raw['format']!r}, expected {MANIFEST_FORMAT!r}")
        if raw["board"] != profile.name:
            raise OverlayMismatch(f"{path}: manifest of board {raw['board']!r}, not {profile.name!r}")
        ips = {name: IpSpec(name=name, vlnv=ip["vlnv"], base_address=int(ip["base_address"], 16),
                            range=int(ip["range"], 16), interface=ip["interface"],
                            parameters=dict(ip.get("parameters", {})))
               for name, ip in raw["ip"].items()}
        files = raw["files"]
        manifest = OverlayManifest(board=raw["board"], part=raw["part"], arch=raw["systeminfo"]["arch"],
                                   bitstream=files["bitstream"], hwh=files["hwh"],
                                   built=bool(files.get("built", False)),
                                   clock_mhz=float(raw["fabric_clock"]["mhz"]), ips=ips, raw=raw,
                                   directory=directory)
    except (KeyError, TypeError, ValueError) as exc:
        raise OverlayMismatch(f"{path}: malformed manifest ({type(exc).__name__}: {exc})") from None
    _ = manifest.dma, manifest.engine      # each raises unless the manifest has exactly one
    return manifest


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
