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
OVERLAYS_ENV = "MSP_PYNQ_OVERLAYS"


def _unique(paths: "list[Path]") -> "list[Path]":
    return list(dict.fromkeys(paths))


def install_data_dirs() -> "list[Path]":
    """Where setup.py's data files (``overlays/``, ``models/``, ``docs/``) are installed:
    ``share/msp-pynq`` under ``sys.prefix`` (a venv, such as the PYNQ image's) and under the
    installation this package sits in (``pip install --user`` or ``--prefix``, a system Python).

    >>> all(d.name == "msp-pynq" and d.parent.name == "share" for d in install_data_dirs())
    True
    """
    bases = [Path(sys.prefix).resolve()]
    site_dir = Path(__file__).resolve().parents[2]        # .../lib/pythonX.Y/site-packages
    if site_dir.parent.name.startswith("python") and site_dir.parent.parent.name in ("lib", "lib64"):
        bases.append(site_dir.parents[2])
    return _unique([base / "share" / "msp-pynq" for base in bases])


def repository_overlay_dir() -> "Path | None":
    """``<repository>/overlays`` when msp_pynq runs from a checkout (or an editable install)."""
    repo = Path(__file__).resolve().parents[2]
    return repo / "overlays" if (repo / "setup.py").is_file() else None


def overlay_search_path() -> "list[Path]":
    """The overlays folders searched for ``<board>/``, in order: ``$MSP_PYNQ_OVERLAYS`` (when
    set), the repository's ``overlays`` (from a checkout), the installed ``share/msp-pynq/overlays``.

    >>> overlay_search_path()[-1].parts[-3:]
    ('share', 'msp-pynq', 'overlays')
    """
    env = os.environ.get(OVERLAYS_ENV)
    repo = repository_overlay_dir()
    return _unique(([Path(env)] if env else []) + ([repo] if repo else [])
                   + [d / "overlays" for d in install_data_dirs()])


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


def load_manifest(board: str, overlay_dir: "str | Path | None" = None) -> OverlayManifest:
    """Read and check ``<overlays folder>/<board>/manifest.json``.

    With ``overlay_dir``, that folder alone; otherwise the folders of :func:`overlay_search_path`:
    the first whose ``<board>/`` holds the built overlay, else the first with a manifest (enough
    for the emulation).

    >>> m = load_manifest("zcu104")
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
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OverlayMismatch(f"no overlay manifest for board {board!r}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise OverlayMismatch(f"{path}: not JSON ({exc})") from None
    try:
        if raw["format"] != MANIFEST_FORMAT:
            raise OverlayMismatch(f"{path}: format {raw['format']!r}, expected {MANIFEST_FORMAT!r}")
        if raw["board"] != board:
            raise OverlayMismatch(f"{path}: manifest of board {raw['board']!r}, not {board!r}")
        ips = {name: IpSpec(name=name, vlnv=ip["vlnv"], base_address=int(ip["base_address"], 16),
                            range=int(ip["range"], 16), interface=ip["interface"],
                            parameters=dict(ip.get("parameters", {})))
               for name, ip in raw["ip"].items()}
        files = raw["files"]
        manifest = OverlayManifest(board=raw["board"], part=raw["part"], arch=raw["systeminfo"]["arch"],
                                   bitstream=files["bitstream"], hwh=files["hwh"],
                                   built=bool(files.get("built", False)),
                                   clock_mhz=float(raw["fabric_clock"]["mhz"]), ips=ips, raw=raw,
                                   directory=directory, searched=searched)
    except (KeyError, TypeError, ValueError) as exc:
        raise OverlayMismatch(f"{path}: malformed manifest ({type(exc).__name__}: {exc})") from None
    _ = manifest.dma, manifest.engine      # each raises unless the manifest has exactly one
    return manifest


def missing_overlay_reason(manifest: OverlayManifest) -> str:
    """Why ``manifest``'s overlay cannot drive a board here, where its files were looked for and
    what to do: the message of ``BoardNotFound`` and the reason of the emulated fallback.

    >>> missing_overlay_reason(load_manifest("pynq-z2")).split(":")[0]
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
