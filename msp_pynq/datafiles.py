"""Where the project's data files are: the repository (a checkout or an editable install) or
``share/msp-pynq`` where setup.py installs ``overlays/``, ``models/`` and ``docs/*.json``.

>>> find_file("models/resnet20-msp8-exact.pynq-z2.mspb").name
'resnet20-msp8-exact.pynq-z2.mspb'
"""
from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _unique(paths: "list[Path]") -> "list[Path]":
    return list(dict.fromkeys(paths))


def package_root() -> Path:
    """The installed (or checked-out) ``msp_pynq`` package folder."""
    return _PACKAGE


def repository_root() -> "Path | None":
    """The repository when msp_pynq runs from a checkout (or an editable install), else None."""
    repo = _PACKAGE.parent
    return repo if (repo / "setup.py").is_file() else None


def install_data_dirs() -> "list[Path]":
    """Where setup.py's data files (``overlays/``, ``models/``, ``docs/``) are installed:
    ``share/msp-pynq`` under ``sys.prefix`` (a venv, such as the PYNQ image's) and under the
    installation this package sits in (``pip install --user`` or ``--prefix``, a system Python).

    >>> all(d.name == "msp-pynq" and d.parent.name == "share" for d in install_data_dirs())
    True
    """
    bases = [Path(sys.prefix).resolve()]
    site_dir = _PACKAGE.parent                            # .../lib/pythonX.Y/site-packages
    if site_dir.parent.name.startswith("python") and site_dir.parent.parent.name in ("lib", "lib64"):
        bases.append(site_dir.parents[2])
    return _unique([base / "share" / "msp-pynq" for base in bases])


def find_file(name: str) -> Path:
    """A data file by its repository path (``models/x.mspb``, ``docs/resources.json``): found in
    the working folder or the one above it (a notebook's), in the repository, or where setup.py
    installs it (``<prefix>/share/msp-pynq/``, e.g. the PYNQ image's venv); the error lists where
    it looked."""
    candidates = _unique([Path.cwd() / name, Path.cwd().parent / name, _PACKAGE.parent / name]
                         + [d / name for d in install_data_dirs()])
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"{name}: not found; looked in " + ", ".join(str(p) for p in candidates))
