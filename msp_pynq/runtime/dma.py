"""Waits with a timeout and recovery for pynq's AXI DMA driver (simple mode, PG021).

pynq's ``_SDMAChannel.wait`` method spins on DMASR with no timeout, and once a channel has halted
on an error it reports "DMA channel not started" instead of the error; ``start()`` spins
without a timeout too. :func:`wait_channel` polls DMASR itself with a deadline and decodes the
error bits, then does pynq's post-wait bookkeeping itself (S2MM invalidate, ``transferred``)
instead of calling pynq's unbounded wait; :func:`reset_dma` soft-resets the core and restarts
both channels, each step with a deadline. See docs/design/pynq-emulation.md.
"""
from __future__ import annotations

import time
from typing import Callable

from ..errors import MSPError
from ..fileio import finite
from .errors import DmaError, DmaTimeout

# DMACR / DMASR bits (PG021, simple mode)
CR_RS = 0x1
CR_RESET = 0x4
SR_HALTED = 0x1
SR_IDLE = 0x2
SR_INT_ERR = 0x10
SR_SLV_ERR = 0x20
SR_DEC_ERR = 0x40
SR_IOC_IRQ = 0x1000
SR_ERR_IRQ = 0x4000
SR_ERRORS = {SR_INT_ERR: "DMAIntErr (internal error: zero length, or a packet longer than LENGTH)",
             SR_SLV_ERR: "DMASlvErr (memory slave error)",
             SR_DEC_ERR: "DMADecErr (address decode error: no memory at the address)"}

MM2S, S2MM = "mm2s", "s2mm"
CR_OFFSET = {MM2S: 0x00, S2MM: 0x30}
SR_OFFSET = {MM2S: 0x04, S2MM: 0x34}
LENGTH_OFFSET = {MM2S: 0x28, S2MM: 0x58}

SPIN_POLLS = 200          # register reads before a wait starts sleeping between reads
POLL_SLEEP_S = 100e-6
MAX_TIMEOUT_S = 3600.0    # one hour: longer than any layer, short enough to notice a hang


def check_timeout(timeout_s: float) -> float:
    """``timeout_s`` as a float if it is a number of seconds in (0, :data:`MAX_TIMEOUT_S`];
    else :class:`msp_pynq.errors.MSPError` naming it. NaN, inf, 0, a negative number or a bool
    would make a deadline that never comes (or one that has always passed).

    >>> check_timeout(2)
    2.0
    >>> check_timeout(float("inf"))
    Traceback (most recent call last):
    ...
    msp_pynq.errors.MSPError: timeout_s must be a finite number in (0, 3600], not inf
    """
    if isinstance(timeout_s, (str, bytes)):     # float() would take "2": the wrong type all the same
        raise MSPError(f"timeout_s must be a finite number in (0, {MAX_TIMEOUT_S:g}], not {timeout_s!r}")
    return finite(timeout_s, "timeout_s", 0.0, MAX_TIMEOUT_S, low_open=True)


def describe_dmasr(sr: int) -> str:
    """``'halted, DMASlvErr (...)'``-style text of a DMASR value."""
    parts = ["halted" if sr & SR_HALTED else "running", "idle" if sr & SR_IDLE else "not idle"]
    parts += [text for bit, text in SR_ERRORS.items() if sr & bit]
    return ", ".join(parts)


def poll(read: Callable[[], int], done: Callable[[int], bool], timeout_s: float) -> "tuple[bool, int]":
    """Read until ``done(value)`` or the deadline; returns ``(done, last value)``.

    Spins for the first :data:`SPIN_POLLS` reads (a layer usually finishes within them), then
    sleeps :data:`POLL_SLEEP_S` between reads so that a long wait does not burn a CPU. Every
    wait on the hardware comes here, so ``timeout_s`` is checked here (:func:`check_timeout`).
    """
    deadline = time.monotonic() + check_timeout(timeout_s)
    polls = 0
    while True:
        value = read()
        if done(value):
            return True, value
        if time.monotonic() > deadline:
            return False, value
        polls += 1
        if polls > SPIN_POLLS:
            time.sleep(POLL_SLEEP_S)


def _channel(dma, which: str):
    return dma.sendchannel if which == MM2S else dma.recvchannel


def wait_channel(dma, which: str, timeout_s: float, what: str = "",
                 context: "Callable[[], str] | None" = None) -> int:
    """Wait until channel ``which`` ('mm2s' or 's2mm') is idle; returns the bytes transferred.

    Raises :class:`DmaError` on an error bit (or a halted channel) and :class:`DmaTimeout`
    after ``timeout_s``; ``what`` starts the message (e.g. the layer and packet) and
    ``context()`` adds to it (e.g. the engine's STATUS).
    """
    ok, sr = poll(lambda: dma.read(SR_OFFSET[which]),
                  lambda v: bool(v & (SR_IDLE | SR_HALTED | SR_INT_ERR | SR_SLV_ERR | SR_DEC_ERR)),
                  timeout_s)
    prefix = f"{what}: " if what else ""
    extra = f"; {context()}" if context else ""
    if not ok:
        raise DmaTimeout(f"{prefix}{which.upper()} transfer not complete after {timeout_s:g} s "
                         f"(DMASR=0x{sr:08x}: {describe_dmasr(sr)}){extra}")
    if sr & (SR_INT_ERR | SR_SLV_ERR | SR_DEC_ERR | SR_HALTED):
        raise DmaError(f"{prefix}{which.upper()} channel error (DMASR=0x{sr:08x}: "
                       f"{describe_dmasr(sr)}){extra}", channel=which, dmasr=sr)
    # What pynq's wait() does once idle, without its unbounded loop: invalidate the S2MM
    # destination, record the bytes moved, release the buffer.
    channel = _channel(dma, which)
    active = getattr(channel, "_active_buffer", None)
    if which == S2MM and active is not None:
        active.invalidate()
    channel._active_buffer = None
    channel.transferred = dma.read(LENGTH_OFFSET[which])
    return int(channel.transferred)


def reset_dma(dma, timeout_s: float = 1.0) -> None:
    """Soft-reset the AXI DMA (both channels; clears sticky errors) and restart its channels.

    DMACR.Reset is written on MM2S (it resets the whole core); the bit self-clears when the
    reset is done. Then each channel's DMACR.RS is set and DMASR.Halted must clear; only then
    is pynq's ``start()`` called (it returns at once) to re-arm its first-transfer bookkeeping.
    """
    check_timeout(timeout_s)                 # before the reset: a bad value changes nothing
    dma.write(CR_OFFSET[MM2S], CR_RESET)
    ok, cr = poll(lambda: dma.read(CR_OFFSET[MM2S]), lambda v: not v & CR_RESET, timeout_s)
    if not ok:
        raise DmaTimeout(f"AXI DMA soft reset not complete after {timeout_s:g} s (DMACR=0x{cr:08x})")
    for which in (MM2S, S2MM):
        channel = _channel(dma, which)
        if channel is None:
            continue
        dma.write(CR_OFFSET[which], CR_RS)
        ok, sr = poll(lambda: dma.read(SR_OFFSET[which]), lambda v: not v & SR_HALTED, timeout_s)
        if not ok:
            raise DmaTimeout(f"AXI DMA {which.upper()} channel still halted {timeout_s:g} s after a "
                             f"reset (DMASR=0x{sr:08x}: {describe_dmasr(sr)})")
        channel.start()


def channel_status(dma) -> str:
    """One line with both channels' DMASR, for error messages."""
    parts = []
    for which in (MM2S, S2MM):
        try:
            sr = dma.read(SR_OFFSET[which])
            parts.append(f"{which.upper()} DMASR=0x{sr:08x} ({describe_dmasr(sr)})")
        except Exception as exc:             # a broken bus must not hide the original error
            parts.append(f"{which.upper()} DMASR unreadable ({exc})")
    return "; ".join(parts)
