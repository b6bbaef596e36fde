"""Execute the notebooks on the emulated board; save their figures and executed copies.

    python scripts/run_notebooks.py                        # all of notebooks/, timings printed
    python scripts/run_notebooks.py --figures docs/images  # also <notebook>-<n>.png per figure

`make notebooks` runs this; the README's picture is docs/images/01_quick_start-2.png.
"""
from __future__ import annotations

import argparse
import base64
import sys
import tempfile
from pathlib import Path

from msp_pynq.jupyter import execute_notebook

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="default: notebooks/*.ipynb")
    parser.add_argument("--figures", help="folder for the PNG figures the notebooks display")
    parser.add_argument("--executed", help="folder for the executed notebooks (with outputs)")
    args = parser.parse_args()
    paths = [Path(p) for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        with tempfile.TemporaryDirectory() as work:
            nb, seconds = execute_notebook(path, work, env={"MSP_PYNQ_EMULATE": "1"})
        pngs = [o.data["image/png"] for c in nb.cells if c.cell_type == "code"
                for o in c.outputs if "image/png" in o.get("data", {})]
        print(f"{path.name}: {seconds:.1f} s, {len(pngs)} figures")
        if args.figures:
            Path(args.figures).mkdir(parents=True, exist_ok=True)
            for n, png in enumerate(pngs, 1):
                Path(args.figures, f"{path.stem}-{n}.png").write_bytes(base64.b64decode(png))
        if args.executed:
            import nbformat
            Path(args.executed).mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(Path(args.executed) / path.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
