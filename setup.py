"""msp-pynq: MSP mixed-scheme, multi-precision CNN quantization and PYNQ runtime."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def overlay_files() -> list:
    """overlays/<board>/* installed under <prefix>/share/msp-pynq/overlays/<board>/."""
    return [(f"share/msp-pynq/overlays/{d.name}", [str(f.relative_to(HERE)) for f in sorted(d.iterdir())
                                                    if f.is_file()])
            for d in sorted((HERE / "overlays").iterdir()) if d.is_dir()]


setup(
    name="msp-pynq",
    version="0.1.0",
    description="MSP (mixed SP2/fixed-point, 4/8-bit) CNNs on PYNQ FPGA boards, with a bit-exact "
                "CPU emulator",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.10",   # PYNQ 3.0.1 board images ship Python 3.10
    packages=find_packages(include=["msp_pynq", "msp_pynq.*"]),
    data_files=overlay_files(),
    # The board needs numpy alone (pynq comes with the board image); everything else is host-side.
    install_requires=["numpy>=1.21,<2"],
    extras_require={
        "board": ["pynq>=3.0.1"],
        "host": ["torch>=2.1", "onnx>=1.14", "onnxruntime>=1.16", "protobuf<6", "tqdm",
                 "matplotlib", "opencv-python-headless", "pillow", "threadpoolctl",
                 "pynq>=3.0.1", "scikit-image"],   # scikit-image: the demo's sample photos
        "hdl": ["cocotb>=2.0", "cocotbext-axi"],
        "test": ["pytest", "hypothesis", "threadpoolctl", "qonnx"],   # qonnx: sample ONNX models
    },
    entry_points={"console_scripts": ["msp-pynq = msp_pynq.cli:main"]},
)
