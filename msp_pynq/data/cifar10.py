"""CIFAR-10 from an image folder (``train/<class>/NNNN.jpg``) or the official python batches.

Images come back as ``uint8 [N, 32, 32, 3]`` (NHWC, RGB) with ``int64`` labels. The image
folder is split as the project's validation rule says: files ``4500.jpg``..``4999.jpg`` of
every class are validation, the rest training. Decoded folders are cached as ``.npz`` (no
pickle) under ``$MSP_PYNQ_CACHE`` (default ``~/.cache/msp-pynq``), keyed by the folder's path
and contents, so the 50,000 JPEGs are decoded once; a cache that does not hold exactly what the
folder decodes to (damaged, truncated, replaced) is decoded again and rewritten.

The python batches are pickles, but no pickle machinery runs on them: they are read by an
unpickler that knows only the few numpy names a batch holds, builds the arrays itself and
refuses every other name (see :func:`_read_batch`).

The root is found from ``$MSP_PYNQ_CIFAR10``, else ``../shared/datasets/cifar10`` beside the
project checkout.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
import stat
import zipfile
from pathlib import Path

import numpy as np

from ..errors import MSPError
from ..fileio import atomic_output, check_regular_file, read_bounded, show

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
VAL_FIRST_INDEX = 4500          # files 4500..4999 of each class are the validation split
SPLITS = ("train", "val", "all", "test")
FOLDER_SUFFIXES = (".jpg", ".jpeg", ".png")
# A real batch is ~31 MB (10,000 images of 3,072 bytes); one re-pickled by Python 3 with
# protocol 2 stores its bytes as latin-1 text, up to twice that.
MAX_BATCH_BYTES = 80 << 20
NPY_HEADER_MAX = 1 << 16        # bytes allowed for one .npy member's header


def default_root() -> "Path | None":
    """The CIFAR-10 folder: ``$MSP_PYNQ_CIFAR10``, else ``../shared/datasets/cifar10``."""
    env = os.environ.get("MSP_PYNQ_CIFAR10")
    if env:
        return Path(env)
    guess = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "cifar10"
    return guess if guess.is_dir() else None


def _cache_dir() -> Path:
    return Path(os.environ.get("MSP_PYNQ_CACHE", Path.home() / ".cache" / "msp-pynq"))


def _folder_files(root: Path) -> list:
    base = root / "train" if (root / "train").is_dir() else root
    files = []
    for label, name in enumerate(CIFAR10_CLASSES):
        folder = base / name
        if not folder.is_dir():
            raise MSPError(f"{show(base)}: class folder {name!r} is missing (expected one folder per "
                           f"class: {', '.join(CIFAR10_CLASSES)})")
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() in FOLDER_SUFFIXES)
        # A FIFO or device named like an image is refused here, before anything opens it.
        files += [(check_regular_file(p, "CIFAR-10 image"), label) for p in found]
    if not files:
        raise MSPError(f"{show(base)}: no images found")
    return files


def _decode_folder(files: list, progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from .images import read_image
    try:
        from tqdm import tqdm
    except ImportError:                                  # pragma: no cover - tqdm is a host extra
        tqdm = None
    images = np.empty((len(files), 32, 32, 3), np.uint8)
    labels = np.array([label for _, label in files], np.int64)
    index = np.array([int(p.stem) if p.stem.isdigit() and len(p.stem) < 10 else -1
                      for p, _ in files], np.int64)
    it = files if tqdm is None or not progress else tqdm(files, desc="decoding CIFAR-10", unit="img")
    for i, (path, _) in enumerate(it):
        # CIFAR images are 32x32: anything larger is refused before it is decoded
        images[i] = read_image(path, "RGB", exact_size=(32, 32))
    return images, labels, index


def _load_folder(root: Path, progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    files = _folder_files(root)
    key = hashlib.sha1(("\n".join(f"{p}:{p.stat().st_size}" for p, _ in files)).encode()).hexdigest()[:16]
    cache = _cache_dir() / f"cifar10-{key}.npz"
    if os.path.lexists(cache):
        try:
            return _read_cache(cache, len(files))
        except MSPError:
            pass                 # damaged or not ours: decode again and overwrite it below
    images, labels, index = _decode_folder(files, progress)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(cache) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, images=images, labels=labels, index=index)
    except OSError:
        pass                     # an unwritable cache only costs the next run a decode
    return images, labels, index


def _read_cache(cache: Path, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cached decode of a folder of ``n`` images, checked to be exactly that."""
    arrays = read_npz(cache, "CIFAR-10 cache", max_bytes=n * (32 * 32 * 3 + 16) + 3 * NPY_HEADER_MAX,
                      names=("images", "labels", "index"))
    images, labels, index = arrays["images"], arrays["labels"], arrays["index"]
    if images.dtype != np.uint8 or images.shape != (n, 32, 32, 3):
        raise MSPError(f"{show(cache)}: images are {images.dtype} {list(images.shape)}, "
                       f"expected uint8 {[n, 32, 32, 3]}")
    for name, arr in (("labels", labels), ("index", index)):
        if arr.dtype != np.int64 or arr.shape != (n,):
            raise MSPError(f"{show(cache)}: {name} are {arr.dtype} {list(arr.shape)}, expected int64 [{n}]")
    if n and not (labels.min() >= 0 and labels.max() < len(CIFAR10_CLASSES)):
        raise MSPError(f"{show(cache)}: labels outside 0..{len(CIFAR10_CLASSES) - 1}")
    return images, labels, index


def read_npz(path: "str | os.PathLike", what: str, max_bytes: int,
             names: "tuple[str, ...] | None" = None) -> "dict[str, np.ndarray]":
    """The arrays of the ``.npz`` file ``path`` (named without ``.npy``), read without trusting
    it: a regular file, a zip whose members' declared sizes add up to at most ``max_bytes``
    (checked before anything is inflated), each member a ``.npy`` of a plain numeric dtype whose
    header's shape fits its declared size exactly (so no header makes numpy allocate what the
    file does not hold), exactly ``names`` when given. Anything else: :class:`MSPError` naming
    ``path``.

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "a.npz"
    >>> np.savez(f, x=np.arange(3))
    >>> read_npz(f, "example", 1 << 20)
    {'x': array([0, 1, 2])}
    """
    p = check_regular_file(path, what)
    try:
        # O_NONBLOCK: a path swapped for a FIFO after the check does not block the open
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise MSPError(f"{show(p)}: cannot read {what} ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise MSPError(f"{show(p)}: {what} is not a regular file")
        try:
            with zipfile.ZipFile(fh) as zf:
                infos = _npz_members(zf, p, what, max_bytes, names)
                return {name: _read_npy(zf, info, p, what) for name, info in infos.items()}
        except MSPError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
                NotImplementedError, RuntimeError, KeyError) as exc:
            # truncated, not a zip, a bad CRC, an unsupported compression or encryption
            raise MSPError(f"{show(p)}: {what} is not a readable .npz file "
                           f"({type(exc).__name__}: {show(str(exc)[:200])})") from None


def _npz_members(zf: zipfile.ZipFile, p: Path, what: str, max_bytes: int,
                 names: "tuple[str, ...] | None") -> "dict[str, zipfile.ZipInfo]":
    infos: dict = {}
    for info in zf.infolist():
        name = info.filename[:-4] if info.filename.endswith(".npy") else None
        if name is None or name in infos:
            raise MSPError(f"{show(p)}: {what} holds {show(info.filename)}, "
                           f"{'twice' if name else 'which is not a .npy array'}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.flag_bits & 1:
            raise MSPError(f"{show(p)}: {what} member {show(info.filename)} is encrypted or "
                           f"compressed with method {info.compress_type}; numpy writes stored or deflated")
        infos[name] = info
    if names is not None and set(infos) != set(names):
        raise MSPError(f"{show(p)}: {what} holds {sorted(map(show, infos))}, expected {sorted(names)}")
    declared = sum(info.file_size for info in infos.values())
    if declared > max_bytes:
        raise MSPError(f"{show(p)}: {what} declares {declared:,} bytes of arrays, more than the "
                       f"{max_bytes:,} allowed")
    return infos


def _read_npy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, p: Path, what: str) -> np.ndarray:
    where = f"{show(p)}: {what} member {show(info.filename)}"
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh, NPY_HEADER_MAX)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh, NPY_HEADER_MAX)
        else:
            raise MSPError(f"{where}: .npy version {version} is not one numpy writes")
        if dtype.hasobject or dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype:
            raise MSPError(f"{where}: dtype {dtype} refused; only plain numeric arrays are read")
        nbytes = math.prod(shape) * dtype.itemsize
        if fh.tell() + nbytes != info.file_size:
            raise MSPError(f"{where}: header says {dtype} {list(shape)} ({nbytes:,} bytes) but the "
                           f"member holds {info.file_size - fh.tell():,} bytes after its header")
        buf = bytearray(nbytes)              # within the declared size, itself within the cap
        got = fh.readinto(buf)
        if got != nbytes:
            raise MSPError(f"{where}: truncated ({got:,} of {nbytes:,} bytes)")
        fh.read(1)                           # reach the end, where zipfile checks the CRC
    return np.frombuffer(buf, dtype).reshape(shape, order="F" if fortran else "C")


# --- the official python batches --------------------------------------------------------------

class _Refused(Exception):
    """What a batch asked for that a CIFAR batch never holds (the message names it)."""


_INT_CODES = frozenset({"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8"})
_BYTE_ORDERS = {"<": "<", ">": ">", "|": "=", "=": "="}


def _text(value) -> "str | None":
    if isinstance(value, bytes):                 # Python 2 strings arrive as bytes
        return value.decode("latin-1")
    return value if isinstance(value, str) else None


class _Dtype:
    """``numpy.dtype(code, align, copy)`` as a batch pickles it: integer codes only."""

    def __init__(self, code=None, align=False, copy=True) -> None:
        text = _text(code)
        if text not in _INT_CODES:
            raise _Refused(f"the dtype {show(repr(code))} (only integer dtypes are read)")
        self.code, self.order = text, "|"

    def __setstate__(self, state) -> None:
        # (version, byte order, subarray, names, fields, itemsize, alignment, flags)
        order = _text(state[1]) if isinstance(state, tuple) and len(state) >= 5 else None
        if order not in _BYTE_ORDERS or any(part is not None for part in state[2:5]):
            raise _Refused(f"a structured or unknown dtype state {show(repr(state)[:80])}")
        self.order = order

    def numpy(self) -> np.dtype:
        return np.dtype(self.code).newbyteorder(_BYTE_ORDERS[self.order])


class _Array:
    """An array a batch pickles, built here from its bytes once its state arrives."""

    array: "np.ndarray | None" = None

    def __setstate__(self, state) -> None:
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]                    # (version, shape, dtype, fortran, data)
        if not (isinstance(state, tuple) and len(state) == 4):
            raise _Refused("an array state that is not (shape, dtype, fortran, data)")
        shape, dtype, fortran, data = state
        self.array = _build_array(data, dtype, shape, "F" if fortran else "C")


class _NdarrayName:
    """Stands for ``numpy.ndarray``, the only type ``_reconstruct`` is given."""


def _build_array(data, dtype, shape, order) -> np.ndarray:
    if not isinstance(dtype, _Dtype) or not isinstance(data, (bytes, bytearray)):
        raise _Refused("an array that is not integer data in bytes")
    if not (isinstance(shape, tuple) and len(shape) <= 4
            and all(type(d) is int and d >= 0 for d in shape)) or order not in ("C", "F"):
        raise _Refused(f"the array shape {show(repr(shape)[:80])}")
    dt = dtype.numpy()
    if math.prod(shape) * dt.itemsize != len(data):
        raise _Refused(f"an array of shape {list(shape)} {dt} with {len(data):,} bytes of data")
    return np.frombuffer(data, dt).reshape(shape, order=order)


def _reconstruct(subtype, shape, code) -> _Array:
    if subtype is not _NdarrayName:
        raise _Refused(f"_reconstruct of {show(repr(subtype)[:80])}")
    return _Array()


def _frombuffer(data, dtype, shape, order) -> _Array:
    out = _Array()
    out.array = _build_array(data, dtype, shape, _text(order))
    return out


def _scalar(dtype, data) -> int:
    if not isinstance(dtype, _Dtype) or not isinstance(data, bytes) or len(data) != dtype.numpy().itemsize:
        raise _Refused("a numpy scalar that is not an integer")
    return int(np.frombuffer(data, dtype.numpy())[0])


def _latin1(text, encoding) -> bytes:
    # Python 3 pickles bytes with protocol 2 as _codecs.encode(text, 'latin1')
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused("_codecs.encode of anything but latin-1 text")
    return text.encode("latin-1")


_GLOBALS = {("numpy", "ndarray"): _NdarrayName, ("numpy", "dtype"): _Dtype,
            ("_codecs", "encode"): _latin1}
for _core in ("numpy.core", "numpy._core"):
    _GLOBALS[(f"{_core}.multiarray", "_reconstruct")] = _reconstruct
    _GLOBALS[(f"{_core}.multiarray", "scalar")] = _scalar
    _GLOBALS[(f"{_core}.numeric", "_frombuffer")] = _frombuffer


class _BatchUnpickler(pickle._Unpickler):
    """Python's own unpickler (the pure-Python one: its memo is a dict, so no index in the file
    sizes an allocation), told the names above and nothing else, with the opcodes that create
    or change objects other ways switched off."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module, name):
        try:
            return _GLOBALS[(module, name)]
        except (KeyError, TypeError):
            raise _Refused(f"{show(str(module))}.{show(str(name))}") from None

    def _refuse_opcode(self):
        raise _Refused("a pickle opcode that builds arbitrary objects")

    def _build_stub(self):
        # BUILD sets the state of what is below it: only the two stubs take one
        if not isinstance(self.stack[-2], (_Array, _Dtype)):
            raise _Refused(f"setting the state of {show(type(self.stack[-2]).__name__)}")
        pickle._Unpickler.load_build(self)

    for _op in (pickle.INST, pickle.OBJ, pickle.NEWOBJ, pickle.NEWOBJ_EX, pickle.EXT1, pickle.EXT2,
                pickle.EXT4, pickle.PERSID, pickle.BINPERSID, pickle.NEXT_BUFFER):
        dispatch[_op[0]] = _refuse_opcode
    dispatch[pickle.BUILD[0]] = _build_stub
    del _op


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file as ``(uint8 [N, 32, 32, 3], int64 [N])``."""
    raw = read_bounded(path, MAX_BATCH_BYTES, "CIFAR-10 python batch")
    try:
        batch = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except _Refused as exc:
        raise MSPError(f"{show(path)}: CIFAR-10 batch file refers to {exc}; refusing to load it "
                       f"(a batch holds only a dict of integer arrays, lists and bytes)") from None
    except MemoryError:
        raise
    except Exception as exc:    # every way a damaged pickle fails: EOF, bad opcodes, stack, types
        raise MSPError(f"{show(path)}: not a CIFAR-10 python batch ({type(exc).__name__}: "
                       f"{show(str(exc)[:200])})") from None
    return _check_batch(batch, path)


def _check_batch(batch, path: Path) -> tuple[np.ndarray, np.ndarray]:
    def field(key: bytes):
        value = batch.get(key, batch.get(key.decode()))
        if value is None:
            raise MSPError(f"{show(path)}: CIFAR-10 batch has no {key!r} entry")
        return value.array if isinstance(value, _Array) else value

    if not isinstance(batch, dict):
        raise MSPError(f"{show(path)}: CIFAR-10 batch is a {type(batch).__name__}, expected a dict")
    data = field(b"data")
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == 3 * 32 * 32):
        kind = f"{data.dtype} {list(data.shape)}" if isinstance(data, np.ndarray) else type(data).__name__
        raise MSPError(f"{show(path)}: CIFAR-10 batch data is {kind}, expected uint8 [N, 3072]")
    labels = field(b"labels")
    if isinstance(labels, np.ndarray) and labels.ndim == 1:
        labels = labels.tolist()
    if not (isinstance(labels, list) and len(labels) == len(data)
            and all(type(v) is int and 0 <= v < len(CIFAR10_CLASSES) for v in labels)):
        raise MSPError(f"{show(path)}: CIFAR-10 batch labels must be {len(data)} integers in "
                       f"0..{len(CIFAR10_CLASSES) - 1}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, np.array(labels, np.int64)


def _load_python_batches(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The official ``cifar-10-batches-py`` layout (data_batch_1..5, test_batch)."""
    names = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
    images, labels = [], []
    for name in names:
        path = root / name
        if not os.path.lexists(path):
            raise MSPError(f"{show(path)}: missing CIFAR-10 python batch file")
        x, y = _read_batch(path)
        images.append(x)
        labels.append(y)
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def load_cifar10(root: "str | Path | None" = None, split: str = "train",
                 progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 images ``uint8 [N, 32, 32, 3]`` and labels ``int64 [N]``.

    ``split``: ``'train'`` (files 0000..4499 of each class), ``'val'`` (4500..4999), ``'all'``;
    for the python-batch layout ``'train'``/``'all'`` are the 50,000 training images and
    ``'test'`` the official test batch.

    >>> images, labels = load_cifar10(split="val")          # doctest: +SKIP
    >>> images.shape, labels[:3]                            # doctest: +SKIP
    ((5000, 32, 32, 3), array([0, 0, 0]))
    """
    if split not in SPLITS:
        raise MSPError(f"unknown split {split!r}; expected one of {SPLITS}")
    root = Path(root) if root is not None else default_root()
    if root is None or not root.exists():
        raise MSPError(f"CIFAR-10 not found at {show(str(root))}; set MSP_PYNQ_CIFAR10 or pass root=")
    py_dir = root if os.path.lexists(root / "data_batch_1") else root / "cifar-10-batches-py"
    if os.path.lexists(py_dir / "data_batch_1"):
        return _load_python_batches(py_dir, split)
    if split == "test":
        raise MSPError(f"{show(root)}: the image-folder layout has no test split (use 'val')")
    images, labels, index = _load_folder(root, progress)
    if split == "all":
        return images, labels
    keep = index >= VAL_FIRST_INDEX if split == "val" else index < VAL_FIRST_INDEX
    return images[keep], labels[keep]
