"""The wheel a board installs, and PYNQ's own `pynq get-notebooks` delivering its notebooks.

Offline and without a board: the wheel is built from this checkout (`pip wheel --no-deps
--no-build-isolation`), installed into a fresh venv (the layout of the PYNQ image's
/usr/local/share/pynq-venv), and the real `pynq get-notebooks msp-pynq` copies the notebooks out
of it. On a PC, pynq finds no device, so delivery needs `--ignore-overlays` (msp-pynq's notebooks
carry no `.link`/`.d` overlay files for PYNQ to resolve; our overlay is found at run time). The
delivered quick start then runs in its Jupyter folder on the installed package alone.
"""
from __future__ import annotations

import configparser
import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = "msp_pynq-0.1.0.data/data/share/msp-pynq"
BOARDS = ("pynq-z2", "zcu104")
NOTEBOOK_DATA = ["models/resnet20-msp8-exact.pynq-z2.mspb", "models/resnet20-msp8-exact.zcu104.mspb",
                 "docs/resources.json", "docs/peers.json", "docs/results/cifar10_agreement.json"]


def run(cmd: list, cwd: Path, env: "dict | None" = None, check: bool = True) -> subprocess.CompletedProcess:
    """``cmd`` without this session's PYTHONPATH (so msp_pynq comes from what was installed) and
    without msp-pynq's own settings ($MSP_PYNQ_OVERLAYS...), whose defaults are under test."""
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("MSP_PYNQ_")}
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env={**clean, **(env or {})}, capture_output=True,
                          text=True, timeout=120)
    if check:
        assert done.returncode == 0, f"{cmd}: {done.stdout}\n{done.stderr}"
    return done


def repo_notebooks() -> "list[str]":
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert names, "notebooks/ holds no *.ipynb"
    return names


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("board-packaging")
    # setuptools' build folders in tmp: nothing written into the checkout, no stale build/lib reused
    (work / "build.cfg").write_text(f"[build]\nbuild_base = {work / 'build'}\n[egg_info]\negg_base = {work}\n"
                                    f"[bdist_wheel]\nbdist_dir = {work / 'bdist'}\n")
    return work


@pytest.fixture(scope="module")
def wheel(work) -> Path:
    import setuptools
    from packaging.version import Version
    if Version(setuptools.__version__) < Version("70.1") and importlib.util.find_spec("wheel") is None:
        pytest.fail(f"setuptools {setuptools.__version__} cannot build a wheel offline: it needs the `wheel` "
                    f"package, or setuptools>=70.1 (the test extra installs it)")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", work / "dist", "."],
        cwd=ROOT, env={"DIST_EXTRA_CONFIG": str(work / "build.cfg")})
    (path,) = (work / "dist").glob("msp_pynq-*.whl")
    return path


def make_venv(path: Path) -> Path:
    """A venv without pip that sees this environment's packages (pynq, numpy) after its own, and
    pynq's console scripts as pip writes them into a venv; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=path).stdout.strip()
    Path(site, "host-env.pth").write_text(sysconfig.get_path("purelib") + "\n")
    for script in ("pynq", "pynq-get-notebooks"):
        source = Path(sysconfig.get_path("scripts"), script).read_text().splitlines(keepends=True)
        (path / "bin" / script).write_text(f"#!{python}\n" + "".join(source[1:]))
        (path / "bin" / script).chmod(0o755)
    return python


def pip_install(python: Path, work: Path, *args) -> None:
    """This environment's pip installs into the venv (`pip --python`), offline, deps left out."""
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", *args],
        cwd=work, env={"DIST_EXTRA_CONFIG": str(work / "build.cfg")})


def get_notebooks(venv: Path, dest: Path, *flags) -> subprocess.CompletedProcess:
    """The real `pynq get-notebooks msp-pynq -p dest --force`, run from the venv's bin/."""
    return run([venv / "bin" / "pynq", "get-notebooks", "msp-pynq", "-p", dest, "--force", *flags], cwd=venv.parent,
               env={"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}, check=False)


def test_the_wheel_carries_notebooks_bundles_manifests_and_the_entry_point(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = configparser.ConfigParser()
        entry_points.read_string(z.read("msp_pynq-0.1.0.dist-info/entry_points.txt").decode())
        read = z.read
        assert {n for n in names if n.startswith("msp_pynq/notebooks/")} == \
            {f"msp_pynq/notebooks/{n}" for n in repo_notebooks() + ["README.md", "__init__.py"]}
        for name in repo_notebooks() + ["README.md"]:
            assert read(f"msp_pynq/notebooks/{name}") == (ROOT / "notebooks" / name).read_bytes(), name
        for name in NOTEBOOK_DATA + [f"overlays/{b}/manifest.json" for b in BOARDS]:
            assert read(f"{DATA}/{name}") == (ROOT / name).read_bytes(), name
        photos = {n for n in names if n.startswith("msp_pynq/data/photos/")}
        assert photos == {f"msp_pynq/data/photos/{p.name}" for p in (ROOT / "msp_pynq/data/photos").iterdir()
                          if p.suffix in (".jpg", ".md")}
    assert dict(entry_points["pynq.notebooks"]) == {"msp-pynq": "msp_pynq.notebooks"}
    assert dict(entry_points["console_scripts"]) == {"msp-pynq": "msp_pynq.cli:main"}
    assert not any("/tests/" in n or n.startswith(("tests/", "notebooks/", "build/")) for n in names)


def files_the_notebooks_find() -> "set[str]":
    """``find_file("...")`` arguments in the notebooks' code (for both boards) and the defaults
    of msp_pynq.perf's loaders: what a notebook reads from the repository at run time."""
    import nbformat

    from msp_pynq.perf import files
    found = {value for key, value in vars(files).items() if key.endswith("_FILE")}
    for name in repo_notebooks():
        for cell in nbformat.read(ROOT / "notebooks" / name, 4).cells:
            for arg in re.findall(r'find_file\(f?"([^"]+)"\)', cell.source if cell.cell_type == "code" else ""):
                found |= {re.sub(r"\{[^}]+\}", board, arg) for board in BOARDS}
    return found


def test_every_file_the_notebooks_find_is_in_the_wheel(wheel):
    needed = files_the_notebooks_find()
    assert "models/resnet20-msp8-exact.zcu104.mspb" in needed and "docs/peers.json" in needed
    assert needed <= set(NOTEBOOK_DATA)
    with zipfile.ZipFile(wheel) as z:
        assert {f"{DATA}/{name}" for name in needed} <= set(z.namelist())


def test_pynq_get_notebooks_delivers_the_installed_notebooks(wheel, work):
    venv = work / "venv-wheel"
    python = make_venv(venv)
    pip_install(python, work, wheel)
    jupyter = work / "jupyter_notebooks"                       # $PYNQ_JUPYTER_NOTEBOOKS on a board
    refused = get_notebooks(venv, jupyter)
    assert refused.returncode != 0 and "No device found in the system" in refused.stderr   # a PC: no board
    done = get_notebooks(venv, jupyter, "--ignore-overlays")
    assert done.returncode == 0, done.stderr
    delivered = jupyter / "msp-pynq"
    assert sorted(p.name for p in delivered.iterdir()) == sorted(repo_notebooks() + ["README.md"])
    for p in delivered.iterdir():
        assert p.read_bytes() == (ROOT / "notebooks" / p.name).read_bytes(), p.name
    assert json.loads((jupyter / ".pynq-notebooks").read_text()) == ["msp_pynq.notebooks"]

    # A notebook runs in the delivered folder: its files and overlay manifests come from the venv
    code = ("import json, msp_pynq; from msp_pynq.jupyter import find_file; "
            "from msp_pynq.runtime.overlays import load_overlay_manifest, missing_overlay_reason; "
            "m = load_overlay_manifest('pynq-z2'); "
            f"print(json.dumps([msp_pynq.__file__] + [str(find_file(n)) for n in {NOTEBOOK_DATA!r}] + "
            "[str(m.directory), missing_overlay_reason(m)]))")
    found = json.loads(run([python, "-c", code], cwd=delivered).stdout)
    share = venv.resolve() / "share" / "msp-pynq"
    site = Path(found[0]).parents[1]
    assert site.name == "site-packages" and site.is_relative_to(venv.resolve())
    assert found[1:-2] == [str(share / n) for n in NOTEBOOK_DATA]
    assert found[-2] == str(share / "overlays" / "pynq-z2")
    assert (f"looked for msp_engine.bit and msp_engine.hwh in {share}/overlays/pynq-z2 (no msp_engine.bit, "
            f"no msp_engine.hwh) ($MSP_PYNQ_OVERLAYS is not set)") in found[-1]          # no repository here

    # ... and the delivered quick start runs there, on the installed package alone
    code = ("from msp_pynq.jupyter import execute_notebook; "
            "nb, _ = execute_notebook('01_quick_start.ipynb', '.', env={'MSP_PYNQ_EMULATE': '1'}); "
            "print(''.join(o.get('text', '') for c in nb.cells if c.cell_type == 'code' for o in c.outputs))")
    printed = run([python, "-c", code], cwd=delivered).stdout
    assert "chelsea.jpg -> cat" in printed and "loaded resnet20-msp8-exact.pynq-z2.mspb" in printed


def test_an_editable_install_delivers_the_repository_notebooks(work):
    venv = work / "venv-editable"
    python = make_venv(venv)
    pip_install(python, work, "--no-build-isolation", "-e", ROOT)
    jupyter = work / "jupyter-editable"
    done = get_notebooks(venv, jupyter, "--ignore-overlays")
    assert done.returncode == 0, done.stderr
    delivered = {p.name for p in (jupyter / "msp-pynq").iterdir()}
    assert set(repo_notebooks() + ["README.md"]) <= delivered and "__init__.py" not in delivered
    for name in repo_notebooks():
        assert (jupyter / "msp-pynq" / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes()
