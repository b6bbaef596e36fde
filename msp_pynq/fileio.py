"""Files a user hands to msp-pynq, read and written safely.

Every input file is checked to be a regular file (a FIFO, a device such as ``/dev/zero`` or a
socket is refused before it is opened for reading, so nothing blocks or streams forever) and
read with a size cap; every output is written to a temporary file beside its target and renamed
over it only once complete, so an interrupted command leaves no half-written file, and no
output may be one of the command's own inputs.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_output(d / "out.bin") as tmp:
...     _ = tmp.write_bytes(b"hello")
>>> read_bounded(d / "out.bin", 1 << 10, "example")
b'hello'
"""
from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import MSPError

MAX_JSON_DEPTH = 64


def show(path: "str | os.PathLike | bytes") -> str:
    """``path`` (or any user text) printable on one line: control characters, lone surrogates
    and undecodable bytes come out escaped, so a hostile file name cannot rewrite the terminal.

    >>> show("a\\nb\\x1b[2J.png")
    "'a\\\\nb\\\\x1b[2J.png'"
    >>> show("plain.png")
    'plain.png'
    """
    text = path if isinstance(path, str) else os.fsdecode(path)
    if text.isprintable():           # surrogates (undecodable bytes) are not printable either
        return text
    return ascii(text)


def check_regular_file(path: "str | os.PathLike", what: str) -> Path:
    """``path`` as a Path if it names an existing regular file; else the project's error.

    >>> check_regular_file("/dev/zero", "image")
    Traceback (most recent call last):
    ...
    msp_pynq.errors.MSPError: /dev/zero: image is a character device, not a regular file
    """
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise MSPError(f"{show(p)}: {what} not found") from None
    except OSError as exc:
        raise MSPError(f"{show(p)}: cannot read {what} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise MSPError(f"{show(p)}: {what} is {_kind(mode)}, not a regular file")
    return p


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def read_bounded(path: "str | os.PathLike", max_bytes: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, refusing one larger than ``max_bytes`` before
    reading it (and, should it grow while read, after ``max_bytes + 1`` bytes)."""
    p = check_regular_file(path, what)
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO after the check, open does not block
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise MSPError(f"{show(p)}: cannot read {what} ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise MSPError(f"{show(p)}: {what} is {_kind(st.st_mode)}, not a regular file")
        if st.st_size > max_bytes:
            raise MSPError(f"{show(p)}: {what} is {st.st_size:,} bytes, more than the "
                           f"{max_bytes:,} allowed")
        data = _read_upto(fh, max_bytes + 1)
    if len(data) > max_bytes:
        raise MSPError(f"{show(p)}: {what} is more than the {max_bytes:,} bytes allowed")
    return data


def _read_upto(fh, limit: int, chunk: int = 1 << 20) -> bytes:
    """At most ``limit`` bytes, read in chunks: ``fh.read(limit)`` would allocate all of
    ``limit`` up front, however small the file."""
    parts, got = [], 0
    while got < limit:
        part = fh.read(min(chunk, limit - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def strict_json(text: "str | bytes", where: str) -> object:
    """JSON as the standard defines it: no ``NaN``/``Infinity``, no duplicate keys, nesting at
    most :data:`MAX_JSON_DEPTH` deep; anything else raises :class:`MSPError` naming ``where``.

    >>> strict_json('{"a": 1}', "example")
    {'a': 1}
    >>> strict_json('{"a": NaN}', "example")
    Traceback (most recent call last):
    ...
    msp_pynq.errors.MSPError: example: JSON holds NaN, which is not a JSON number
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MSPError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise MSPError(f"{where}: JSON nested more than {MAX_JSON_DEPTH} deep")

    def constant(name: str):
        raise MSPError(f"{where}: JSON holds {name}, which is not a JSON number")

    def pairs(items: list) -> dict:
        out: dict = {}
        for key, value in items:
            if key in out:
                raise MSPError(f"{where}: JSON object has the key {show(key)} twice")
            out[key] = value
        return out

    try:
        return json.loads(text, parse_constant=constant, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise MSPError(f"{where}: not valid JSON ({exc})") from None
    except RecursionError:                       # pragma: no cover - the depth check comes first
        raise MSPError(f"{where}: JSON nested too deep") from None


def _json_depth(text: str) -> int:
    """Bracket nesting depth outside strings: checked before parsing, so a deep document never
    reaches the recursive parser."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def check_output(out: "str | os.PathLike", inputs: "list[str | os.PathLike | None]" = (),
                 what: str = "output") -> Path:
    """``out`` as a Path once it is safe to write: not a folder, its folder exists and is
    writable, and it is none of ``inputs`` (the same file by path or by inode). Call it before
    the slow work, so a bad ``--out`` is found in a second, not after an hour."""
    o = Path(out)
    if o.is_dir():
        raise MSPError(f"{show(o)}: {what} is a folder; give a file name")
    parent = o.parent if str(o.parent) else Path(".")
    if not parent.is_dir():
        raise MSPError(f"{show(o)}: the {what}'s folder {show(parent)} does not exist")
    if not writable_folder(parent):
        raise MSPError(f"{show(o)}: the {what}'s folder {show(parent)} is not writable")
    if o.exists() and not o.is_file():
        raise MSPError(f"{show(o)}: {what} exists and is not a regular file")
    for src in inputs:
        if src is not None and _same_file(o, Path(src)):
            raise MSPError(f"{show(o)}: {what} would overwrite the input {show(src)}; "
                           f"choose another name")
    return o


def writable_folder(folder: "str | os.PathLike") -> bool:
    """Whether msp-pynq may write into ``folder``: the OS allows it and the folder's mode gives
    somebody write permission (a ``chmod a-w`` folder is read-only by intent, even for root)."""
    try:
        mode = os.stat(folder).st_mode
    except OSError:
        return False
    return bool(mode & 0o222) and os.access(folder, os.W_OK | os.X_OK)


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


@contextlib.contextmanager
def atomic_output(path: "str | os.PathLike") -> Iterator[Path]:
    """A temporary path beside ``path``; renamed over ``path`` when the block ends without an
    error, removed otherwise (an interrupted command leaves the old file, or none)."""
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent or ".")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def finite(value: float, name: str, low: float = -math.inf, high: float = math.inf,
           low_open: bool = False) -> float:
    """``value`` as a float if it is a finite number within [low, high] ((low, high] with
    ``low_open``); else :class:`MSPError` naming ``name``.

    >>> finite(2.0, "timeout_s", 0, 3600, low_open=True)
    2.0
    >>> finite(float("nan"), "timeout_s", 0, 3600, low_open=True)
    Traceback (most recent call last):
    ...
    msp_pynq.errors.MSPError: timeout_s must be a finite number in (0, 3600], not nan
    """
    numeric = isinstance(value, numbers.Real) and not isinstance(value, bool)   # no "2", no True
    v = float(value) if numeric else math.nan
    ok = math.isfinite(v) and (v > low if low_open else v >= low) and v <= high
    if not ok:
        span = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise MSPError(f"{name} must be a finite number in {span}, not {value!r}")
    return v
