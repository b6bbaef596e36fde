"""MSP quantization-aware training: quantizers, row assignment, drop-in modules, BN folding.

>>> from msp_pynq.models import build_model
>>> from msp_pynq.quant import quantize, row_assignment
>>> q = quantize(build_model("resnet20"), board="pynq-z2")
>>> sum(v["counts"].get("sp2_4", 0) for v in row_assignment(q).values()) > 0
True
"""
from .api import calibrate, fold_batch_norm, quantize, row_assignment
from .integer_exact import IntegerExact, integer_exact
from .levels import WEIGHT_SCHEMES, fixed_levels, pow2_levels, sp2_levels
from .modules import QAct, QConv2d, QLinear

__all__ = ["calibrate", "fold_batch_norm", "quantize", "row_assignment", "WEIGHT_SCHEMES",
           "fixed_levels", "pow2_levels", "sp2_levels", "QAct", "QConv2d", "QLinear",
           "IntegerExact", "integer_exact"]
