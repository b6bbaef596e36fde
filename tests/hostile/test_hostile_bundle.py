"""Hostile bundle files: every one ends in a BundleError naming the file, the array / layer /
field, the value found and what was expected; none is read whole, none allocates what its
header merely claims, none is left half written."""
from __future__ import annotations

import copy
import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msp_pynq.bundle import container
from msp_pynq.bundle.container import MAGIC, MAX_BUNDLE, BundleError, read_container, write_container
from msp_pynq.bundle.io import load_bundle

from .bounded import assert_own_error, run_bounded

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted((ROOT / "models").glob("*.mspb"))
BUNDLE = ROOT / "models" / "resnet20-msp8.pynq-z2.mspb"


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def raw_bundle(header: "bytes | str", data: bytes = b"") -> bytes:
    """Magic, version, header (any bytes, with a correct checksum), then ``data`` at the next
    64-byte boundary: a well-formed container around whatever header a test wants."""
    h = header.encode() if isinstance(header, str) else header
    prefix = MAGIC + struct.pack("<II", 1, len(h)) + h + hashlib.sha256(h).digest()
    pad = -len(prefix) % 64
    return prefix + b"\0" * pad + data


def data_start(header: str) -> int:
    return -(-(48 + len(header.encode())) // 64) * 64


def one_array(spec_overrides: dict, data: bytes = b"\x01" * 64) -> bytes:
    """A container with one uint8 array ``a`` of 64 bytes and its table entry overridden."""
    def header(offset) -> str:
        spec = {"dtype": "uint8", "shape": [len(data)], "offset": offset, "nbytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}
        spec.update(spec_overrides)
        return json.dumps({"manifest": {}, "arrays": {"a": spec}})
    start = data_start(header(f"{0:012d}"))
    return raw_bundle(header(spec_overrides.get("offset", f"{start:012d}")), data)


# ---- files that are not bundle-sized regular files ---------------------------------------

def test_devices_and_fifos_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "pipe.mspb"
    os.mkfifo(fifo)
    for path, kind in (("/dev/zero", "character device"), (fifo, "FIFO"), (tmp_path, "folder")):
        result = run_bounded(f"read_container({str(path)!r})",
                             "from msp_pynq.bundle.container import read_container", cpu_s=20)
        assert result["raised"] == "BundleError"
        assert_own_error(result, str(path), kind, "not a regular file")


def test_a_huge_tail_is_refused_before_reading(tmp_path):
    """A valid bundle with 3 GiB appended (a sparse file): refused by size, in bounded memory."""
    path = tmp_path / "tail.mspb"
    path.write_bytes(BUNDLE.read_bytes())
    os.truncate(path, path.stat().st_size + (3 << 30))
    result = run_bounded(f"read_container({str(path)!r})",
                         "from msp_pynq.bundle.container import read_container", mem_mib=256)
    assert result["raised"] == "BundleError"
    assert_own_error(result, str(path), f"{path.stat().st_size:,} bytes", f"{MAX_BUNDLE:,}")


def test_a_short_tail_after_the_last_array_is_an_error(tmp_path):
    path = tmp_path / "tail.mspb"
    path.write_bytes(BUNDLE.read_bytes() + b"\0" * 64)
    with pytest.raises(BundleError, match=r"tail\.mspb: 64 bytes after the last array"):
        read_container(path)
    with pytest.raises(BundleError, match="after the last array"):
        load_bundle(path)


# ---- the header's JSON -------------------------------------------------------------------

@pytest.mark.parametrize("header, fragment", [
    ('{"manifest": {"x": Infinity}, "arrays": {}}', "Infinity"),
    ('{"manifest": {"x": NaN}, "arrays": {}}', "NaN"),
    ('{"manifest": {"x": -Infinity}, "arrays": {}}', "-Infinity"),
    ('{"manifest": ' + "[" * 1100 + "]" * 1100 + ', "arrays": {}}', "nested more than 64"),
    ('{"manifest": {}, "arrays": {}, "arrays": {}}', "the key arrays twice"),
    ('{"manifest": {"a": 1, "a": 2}, "arrays": {}}', "the key a twice"),
    ('{"manifest": {}', "not valid JSON"),
    ('["manifest"]', "lacks a manifest"),
])
def test_header_json_is_strict(header, fragment):
    result = run_bounded(f"read_container({raw_bundle(header)!r})",
                         "from msp_pynq.bundle.container import read_container")
    assert result["raised"] == "BundleError"
    assert_own_error(result, "<bytes>: header", fragment)


def test_header_that_is_not_utf8():
    with pytest.raises(BundleError, match="not UTF-8"):
        read_container(raw_bundle(b'{"manifest": {"\xff": 1}, "arrays": {}}'))


# ---- the array table ---------------------------------------------------------------------

@pytest.mark.parametrize("override, fragment", [
    ({"offset": 128.0}, "offset is 128.0, expected a non-negative integer"),
    ({"offset": "12a"}, "offset is '12a'"),
    ({"offset": True}, "offset is True"),
    ({"offset": -64}, "offset is -64"),
    ({"offset": None}, "offset is None"),
    ({"nbytes": 64.0}, "nbytes is 64.0"),
    ({"nbytes": "64"}, "nbytes is '64'"),                  # digit strings are for offsets only
    ({"nbytes": False}, "nbytes is False"),
    ({"shape": 64}, "shape 64, expected a list"),
    ({"shape": [-64]}, "shape [-64]"),
    ({"shape": [64.0]}, "shape [64.0]"),
    ({"shape": [True] * 64}, "shape [True"),
    ({"shape": [1] * 9}, "at most 8"),
    ({"dtype": "object"}, "dtype 'object' not allowed"),
    ({"dtype": ["uint8"]}, "dtype ['uint8'] not allowed"),
    ({"shape": [2 ** 40, 2 ** 40]}, "do not hold uint8"),
    ({"nbytes": 2 ** 62, "shape": [2 ** 62]}, "outside the file"),
    ({"sha256": 5}, "sha256 5"),
    ({"offset": 64}, "outside the file's data"),
    ({"offset": 130}, "outside the file's data"),
])
def test_table_fields_are_type_checked(override, fragment):
    raw = one_array(override)
    result = run_bounded(f"read_container({raw!r})",
                         "from msp_pynq.bundle.container import read_container", mem_mib=128)
    assert result["raised"] == "BundleError"
    assert_own_error(result, "<bytes>: array 'a'", fragment)


def test_the_table_helper_builds_a_valid_container():
    _, arrays = read_container(one_array({}))               # the cases above differ in one field
    assert arrays["a"].tolist() == [1] * 64


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70)
                           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=8)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["dtype", "shape", "offset", "nbytes", "sha256"]), JSON_VALUES)
def test_fuzz_table_fields_only_bundle_errors(key, value):
    raw = one_array({key: value})
    try:
        _, arrays = read_container(raw)
    except BundleError as exc:
        assert "array 'a'" in str(exc) or "bytes after the last array" in str(exc)
        return
    assert arrays["a"].nbytes == 64                          # accepted only if it still holds


def test_overlapping_entries_are_refused_in_bounded_memory(tmp_path):
    """2,000 table entries naming one 4 MiB array would take 8 GiB once read; refused."""
    data = bytes(range(256)) * (1 << 14)
    digest = hashlib.sha256(data).hexdigest()

    def header(start: int) -> str:
        spec = {"dtype": "uint8", "shape": [len(data)], "offset": f"{start:012d}", "nbytes": len(data),
                "sha256": digest}
        return json.dumps({"manifest": {}, "arrays": {f"a{i}": spec for i in range(2000)}})
    start = data_start(header(0))
    path = tmp_path / "overlap.mspb"
    path.write_bytes(raw_bundle(header(start), data))
    result = run_bounded(f"read_container({str(path)!r})",
                         "from msp_pynq.bundle.container import read_container", mem_mib=256)
    assert result["raised"] == "BundleError"
    assert_own_error(result, f"{path}: arrays", "overlap", "each array needs its own bytes")


def test_entry_past_the_end_of_the_file():
    raw = one_array({}, b"\x01" * 64)[:-1]
    with pytest.raises(BundleError, match="array 'a': bytes .* outside the file's data"):
        read_container(raw)


# ---- the manifest --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stored():
    return read_container(BUNDLE)


def _last(m):
    return m["layers"][-1]


MANIFEST_CASES = [
    ("engine", lambda m, a: m.update(engine=["7710d6457ef585b4"]), "engine is ['7710d6457ef585b4'], expected an object"),
    ("engine-missing", lambda m, a: m.pop("engine"), "engine is None, expected an object"),
    ("classes", lambda m, a: m.update(classes="airplane"), "classes is 'airplane', expected a list"),
    ("class-name", lambda m, a: m["classes"].__setitem__(3, 7), "a class name is 7, expected a string"),
    ("class-count", lambda m, a: m["classes"].pop(), "9 class names for 10 logits"),
    ("output", lambda m, a: m["output"].update(name="relu"), "output 'relu' is not the last layer's output 'fc'"),
    ("output-type", lambda m, a: m.update(output="fc"), "output is 'fc', expected an object"),
    ("logit-length", lambda m, a: a.update(logit_scale=np.ones(9)), "'logit_scale' is float64 [9], expected float64 [10]"),
    ("logit-2d", lambda m, a: a.update(logit_scale=np.ones((10, 1))), "'logit_scale' is float64 [10, 1]"),
    ("logit-dtype", lambda m, a: a.update(logit_scale=np.ones(10, np.float32)), "'logit_scale' is float32 [10]"),
    ("logit-missing", lambda m, a: a.pop("logit_scale"), "array 'logit_scale' is missing"),
    ("layers", lambda m, a: m.update(layers={}), "layers is {}, expected a list"),
    ("no-layers", lambda m, a: m.update(layers=[]), "layers is an empty list"),
    ("layer-entry", lambda m, a: m["layers"].__setitem__(1, "conv"), "layers[1]: the entry is 'conv', expected an object"),
    ("name", lambda m, a: m["layers"][0].update(name=5), "layers[0]: name is 5, expected a str"),
    ("inputs", lambda m, a: m["layers"][0].update(inputs="input"), "layer 'conv1': inputs is 'input'"),
    ("add-inputs", lambda m, a: m["layers"][3].update(inputs=["relu"]), "layer 'add': inputs is ['relu'], expected a list of 2"),
    ("stride", lambda m, a: m["layers"][0].update(stride=["1", 1]), "layer 'conv1': stride is ['1', 1], expected a list of 2 integers in [1, 255]"),
    ("padding", lambda m, a: m["layers"][0].update(padding=[1, 1, 1]), "layer 'conv1': padding is [1, 1, 1]"),
    ("padding-huge", lambda m, a: m["layers"][0].update(padding=[20000] * 4), "padding is [20000, 20000, 20000, 20000], expected a list of 4 integers in [0, 255]"),
    ("rows", lambda m, a: m["layers"][0].update(rows=16.0), "layer 'conv1': rows is 16.0"),
    ("in-spec", lambda m, a: m["layers"][0].update(in_spec=8), "in_spec is 8, expected one of u4, u5, u8, s8"),
    ("out-spec", lambda m, a: m["layers"][0].update(out_spec="u16"), "out_spec is 'u16'"),
    ("k-mismatch", lambda m, a: m["layers"][0].update(k=28), "k is 28, expected kernel 3 x 3 x 3 in_channels = 27"),
    ("multipliers", lambda m, a: m["layers"][3].update(multipliers=[1.5, 2]), "layer 'add': multipliers is [1.5, 2]"),
    ("shift", lambda m, a: m["layers"][3].update(shift="16"), "layer 'add': shift is '16'"),
    ("gap", lambda m, a: next(l for l in m["layers"] if l["op"] == "global_avg_pool").update(multiplier=None),
     "multiplier is None, expected an int"),
    ("op", lambda m, a: m["layers"][0].update(op=["conv2d"]), "op is ['conv2d'], expected a str"),
    ("schemes-shape", lambda m, a: a.update({"conv1/schemes": np.zeros(15, np.uint8)}),
     "array 'conv1/schemes' is uint8 [15], expected uint8 [16]"),
    ("bias-dtype", lambda m, a: a.update({"conv1/bias": a["conv1/bias"].astype(np.int64)}),
     "array 'conv1/bias' is int64 [16], expected int32 [16]"),
    ("weights-size", lambda m, a: a.update({"conv1/weights": a["conv1/weights"][:-1].copy()}),
     "array 'conv1/weights' holds 431 bytes, its 16 rows of K=27 need 432"),
    ("scheme-value", lambda m, a: a.update({"conv1/schemes": np.full(16, 9, np.uint8)}), "holds scheme 9"),
    ("bad-shift-value", lambda m, a: m["layers"][3].update(shift=99), "layer 'add'"),
]


@pytest.mark.parametrize("mutate, fragment", [c[1:] for c in MANIFEST_CASES], ids=[c[0] for c in MANIFEST_CASES])
def test_manifest_fields_are_checked(stored, tmp_path, mutate, fragment):
    manifest, arrays = copy.deepcopy(stored[0]), dict(stored[1])
    mutate(manifest, arrays)
    path = tmp_path / "bad.mspb"
    write_container(path, manifest, arrays)
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    assert str(info.value).startswith(f"{path}: "), str(info.value)
    assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize("field, value, fragment", [
    ("k", 2 ** 31, "k is 2147483648, expected an integer in [1, 32768]"),
    ("rows", 2 ** 31, "rows is 2147483648, expected an integer in [1, 65535]"),
    ("in_channels", 2 ** 31, "in_channels is 2147483648"),
    ("kernel", [2 ** 31, 2 ** 31], "kernel is [2147483648, 2147483648]"),
])
def test_huge_sizes_are_refused_before_allocating(stored, tmp_path, field, value, fragment):
    """Today a conv's k of 2^31 allocated 32 GiB before any check; now nothing is allocated."""
    manifest, arrays = copy.deepcopy(stored[0]), dict(stored[1])
    manifest["layers"][0][field] = value
    path = tmp_path / "huge.mspb"
    write_container(path, manifest, arrays)
    result = run_bounded(f"load_bundle({str(path)!r})", "from msp_pynq.bundle.io import load_bundle",
                         mem_mib=256)
    assert result["raised"] == "BundleError"
    assert_own_error(result, str(path), "layer 'conv1'", fragment)


def test_committed_bundles_load_unchanged():
    before = {p: sha(p) for p in MODELS}
    assert len(MODELS) == 4
    for path in MODELS:
        bundle = load_bundle(path)
        assert len(bundle.network.layers) == 32 and bundle.logit_scale.shape == (10,)
        assert bundle.arrays["logit_scale"] is bundle.logit_scale
    assert {p: sha(p) for p in MODELS} == before


# ---- writing -------------------------------------------------------------------------------

def _interrupt(fh, prefix, start, blobs, size):
    fh.write(prefix[: len(prefix) // 2])
    fh.flush()
    raise OSError(28, "No space left on device")


def test_interrupted_write_leaves_the_old_bundle(stored, tmp_path, monkeypatch):
    target = tmp_path / "model.mspb"
    target.write_bytes(BUNDLE.read_bytes())
    before = sha(target)
    monkeypatch.setattr(container, "_write_body", _interrupt)
    with pytest.raises(BundleError, match=r"model\.mspb: cannot write bundle \(No space left"):
        write_container(target, *stored)
    assert sha(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.mspb"]


def test_interrupted_first_write_leaves_no_file(stored, tmp_path, monkeypatch):
    def interrupt(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(container, "_write_body", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_container(tmp_path / "new.mspb", *stored)
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_nan_in_the_manifest(tmp_path):
    with pytest.raises(BundleError, match="cannot be stored as JSON"):
        write_container(tmp_path / "n.mspb", {"x": float("nan")}, {})
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 3 << 10), st.integers(1, 255))
def test_fuzz_damaged_committed_bundle(stored, tmp_path, pos, value):
    """A byte of the committed bundle's header region changed: a BundleError, or the same model."""
    raw = bytearray(BUNDLE.read_bytes())
    raw[pos] ^= value
    try:
        manifest, _ = read_container(bytes(raw))
    except BundleError:
        return
    assert manifest == stored[0]
