"""Where the runtime finds an overlay, and what it says on a board when the .bit/.hwh are missing.

The folders are real (tmp_path as ``$MSP_PYNQ_OVERLAYS`` and as an installed venv's prefix); only
the board is made up, as one device in pynq's own device list.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pynq
import pytest

from msp_pynq.jupyter import find_file
from msp_pynq.runtime import BoardNotFound, OverlayMismatch, Runtime
from msp_pynq.runtime.overlays import (install_data_dirs, load_overlay_manifest, missing_overlay_reason,
                                       overlay_search_path)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def places(tmp_path, monkeypatch):
    """``(env, share)``: ``$MSP_PYNQ_OVERLAYS`` set to an empty folder, and ``sys.prefix`` a
    fresh venv whose ``share/msp-pynq/overlays`` setup.py would fill."""
    env, prefix = tmp_path.resolve() / "mine", tmp_path.resolve() / "venv"
    env.mkdir()
    monkeypatch.setenv("MSP_PYNQ_OVERLAYS", str(env))
    monkeypatch.setattr(sys, "prefix", str(prefix))
    return env, prefix / "share" / "msp-pynq" / "overlays"


@pytest.fixture
def on_a_board(monkeypatch):
    """pynq finds one device (what a PYNQ board's image reports); a PC has none."""
    monkeypatch.setattr(pynq.Device, "_devices", [object()], raising=False)


def put_overlay(folder: Path, board: str = "pynq-z2", files=("manifest.json", "msp_engine.bit", "msp_engine.hwh")):
    """``folder/board/`` with the repository's manifest and stand-in .bit/.hwh files (never loaded)."""
    (folder / board).mkdir(parents=True, exist_ok=True)
    for name in files:
        if name == "manifest.json":
            shutil.copy(ROOT / "overlays" / board / name, folder / board / name)
        else:
            (folder / board / name).write_bytes(b"not a real bitstream")
    return folder / board


def test_search_order_is_env_then_repository_then_installed_share(places, monkeypatch):
    env, share = places
    assert overlay_search_path() == [env, ROOT / "overlays", share]
    monkeypatch.delenv("MSP_PYNQ_OVERLAYS")
    assert overlay_search_path() == [ROOT / "overlays", share]
    assert install_data_dirs() == [share.parent]
    assert load_overlay_manifest("pynq-z2").directory == ROOT / "overlays" / "pynq-z2"


def test_a_built_overlay_wins_over_an_earlier_manifest(places):
    env, share = places
    put_overlay(env, files=("manifest.json",))              # manifest only: enough to emulate
    m = load_overlay_manifest("pynq-z2")
    assert m.directory == env / "pynq-z2" and not m.installed
    assert m.missing_files == ["msp_engine.bit", "msp_engine.hwh"]
    assert m.searched == (env, ROOT / "overlays", share)
    put_overlay(share)                                      # copied into the venv's share folder
    m = load_overlay_manifest("pynq-z2")
    assert m.directory == share / "pynq-z2" and m.installed
    assert m.bitstream_path == share / "pynq-z2" / "msp_engine.bit"
    assert load_overlay_manifest("zcu104").directory == ROOT / "overlays" / "zcu104"   # the other board


def test_a_bit_without_its_hwh_is_not_an_overlay(places):
    env, share = places
    put_overlay(env, files=("manifest.json", "msp_engine.bit"))
    m = load_overlay_manifest("pynq-z2")
    assert m.directory == env / "pynq-z2" and m.missing_files == ["msp_engine.hwh"] and not m.installed


def test_an_explicit_overlay_dir_is_the_only_place_looked_in(tmp_path):
    put_overlay(tmp_path, files=("manifest.json",))
    m = load_overlay_manifest("pynq-z2", tmp_path)
    assert m.directory == tmp_path / "pynq-z2" and m.searched == (tmp_path,)
    with pytest.raises(OverlayMismatch, match="no overlay manifest for board 'pynq-z2'"):
        load_overlay_manifest("pynq-z2", tmp_path / "elsewhere")
    (tmp_path / "pynq-z2" / "manifest.json").write_text("{")
    with pytest.raises(OverlayMismatch, match=r"pynq-z2/manifest.json: not JSON"):
        load_overlay_manifest("pynq-z2", tmp_path)


def expected_reason(board: str, env: Path, share: Path) -> str:
    """The missing-overlay message, written out (not taken from the package)."""
    return (f"overlay msp_engine.bit is not built or not installed here: looked for msp_engine.bit and "
            f"msp_engine.hwh in {env}/{board} (no such folder); {ROOT}/overlays/{board} (no msp_engine.bit, "
            f"no msp_engine.hwh); {share}/{board} (no such folder). Build them with `make overlay "
            f"BOARD={board}` on a machine with Vivado 2022.1 (overlays/README.md) and copy both into one "
            f"of those folders, or set $MSP_PYNQ_OVERLAYS to a folder whose {board}/ holds them and "
            f"manifest.json")


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_on_a_board_without_the_overlay_emulate_false_says_where_it_looked(board, places, on_a_board):
    env, share = places
    with pytest.raises(BoardNotFound) as info:
        Runtime.open(board, emulate=False, log=None)
    assert str(info.value) == f"{board}: " + expected_reason(board, env, share)


def test_on_a_board_without_the_overlay_the_emulation_says_why(places, on_a_board):
    env, share = places
    lines = []
    with Runtime.open("pynq-z2", log=lines.append) as rt:
        assert rt.mode == "emulated"
    assert lines == [f"msp_pynq runtime: pynq-z2 emulated ({expected_reason('pynq-z2', env, share)}); "
                     f"engine 1.0, fingerprint 7710d645, 125 MHz"]


def test_without_the_env_variable_the_message_says_it_is_not_set(places, on_a_board, monkeypatch):
    env, share = places
    monkeypatch.delenv("MSP_PYNQ_OVERLAYS")
    reason = missing_overlay_reason(load_overlay_manifest("pynq-z2"))
    assert reason.startswith(f"overlay msp_engine.bit is not built or not installed here: looked for "
                             f"msp_engine.bit and msp_engine.hwh in {ROOT}/overlays/pynq-z2 (no msp_engine.bit, "
                             f"no msp_engine.hwh); {share}/pynq-z2 (no such folder) ($MSP_PYNQ_OVERLAYS is "
                             f"not set). Build them")
    put_overlay(share, files=("msp_engine.bit",))            # a .bit copied without its manifest
    reason = missing_overlay_reason(load_overlay_manifest("pynq-z2"))
    assert f"{share}/pynq-z2 (no msp_engine.hwh, no manifest.json)" in reason


def test_off_a_board_the_reason_stays_short(places):
    with pytest.raises(BoardNotFound, match=r"^pynq-z2: no PYNQ board found$"):
        Runtime.open("pynq-z2", emulate=False, log=None)


def test_find_file_looks_in_the_installed_share_folder(places, monkeypatch):
    env, share = places
    monkeypatch.chdir(env)                       # a Jupyter folder, away from the repository
    name = "docs/only-installed.json"
    with pytest.raises(FileNotFoundError) as info:
        find_file(name)
    assert str(info.value) == (f"{name}: not found; looked in {env / name}, {env.parent / name}, {ROOT / name}, "
                               f"{share.parent / name}")
    (share.parent / "docs").mkdir(parents=True)
    (share.parent / name).write_text("{}")
    assert find_file(name) == share.parent / name
    assert find_file("docs/peers.json") == ROOT / "docs" / "peers.json"     # a checkout's own first
