"""Run one hostile case in a fresh interpreter with bounded memory and CPU time.

The child imports what the case needs first, then caps its address space at that baseline plus
``mem_mib`` and its CPU time at what it used so far plus ``cpu_s`` (CPU time, not wall time, so a
loaded machine does not fail the test), runs the case and reports how it ended as JSON: the
exception's type, whether it is one of the project's own errors, and its message. A case that
allocates past the cap ends in ``MemoryError`` (or is killed), one that spins ends by SIGXCPU:
both fail the caller's assertion.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

_CHILD = r'''
import json, resource, sys, traceback
PRELUDE = {prelude!r}
CASE = {case!r}
env = {{}}
exec(PRELUDE, env)
from msp_pynq.errors import MSPError
try:
    from msp_pynq.runtime.errors import MspRuntimeError
except Exception:
    MspRuntimeError = MSPError
def vm_bytes():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
base = vm_bytes()
limit = base + {mem_mib} * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
used = resource.getrusage(resource.RUSAGE_SELF)
cpu = int(used.ru_utime + used.ru_stime) + {cpu_s}
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
result = {{"raised": None, "own": False, "message": ""}}
try:
    exec(CASE, env)
except BaseException as exc:
    result = {{"raised": type(exc).__name__, "own": isinstance(exc, (MSPError, MspRuntimeError)),
              "message": str(exc)[:2000],
              "traceback": "" if isinstance(exc, (MSPError, MspRuntimeError)) else traceback.format_exc()[-3000:]}}
print("@@RESULT@@" + json.dumps(result))
'''


def run_bounded(case: str, prelude: str = "", mem_mib: int = 256, cpu_s: int = 30,
                wall_s: float = 600, cwd: "str | None" = None, env: "dict | None" = None) -> dict:
    """Run ``case`` (Python source) after ``prelude`` in a child interpreter under the caps;
    returns ``{"raised": type name or None, "own": bool, "message": str, "returncode": int}``.
    A child killed by a signal (for example SIGXCPU) has ``raised`` ``"killed"``."""
    code = _CHILD.format(prelude=textwrap.dedent(prelude), case=textwrap.dedent(case),
                         mem_mib=int(mem_mib), cpu_s=int(cpu_s))
    child_env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                     **(env or {}))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=wall_s, cwd=cwd, env=child_env, stdin=subprocess.DEVNULL)
    for line in proc.stdout.splitlines():
        if line.startswith("@@RESULT@@"):
            out = json.loads(line[len("@@RESULT@@"):])
            out["returncode"] = proc.returncode
            return out
    return {"raised": "killed", "own": False, "returncode": proc.returncode,
            "message": f"child ended with {proc.returncode}: {proc.stderr[-2000:]}"}


def assert_own_error(result: dict, *fragments: str) -> None:
    """The case ended in one of the project's errors whose message holds every fragment."""
    assert result["raised"] is not None, "the hostile input was accepted"
    assert result["own"], f"{result['raised']} instead of the project's error:\n{result.get('traceback') or result['message']}"
    for frag in fragments:
        assert frag in result["message"], f"{frag!r} not in {result['message']!r}"
