"""The integer contract (docs/numerics.md), implemented once."""
from .activations import S8, U4, U5, U8, ActSpec, act_spec, parse_act
from .bounds import MAX_K, accumulator_bound, ceil_div, gemm_dtype
from .packing import pack_rows, packed_nbytes, unpack_rows
from .requant import quantize_multiplier, quantize_multipliers, requantize
from .schemes import Scheme, decode, encode, parse_scheme, parse_schemes, sp2_terms
from .softmax import softmax
from .windows import window_out_len

__all__ = [
    "ActSpec", "U4", "U5", "U8", "S8", "act_spec", "parse_act", "MAX_K", "accumulator_bound",
    "ceil_div", "gemm_dtype", "pack_rows", "packed_nbytes", "unpack_rows", "quantize_multiplier",
    "quantize_multipliers", "requantize", "Scheme", "decode", "encode", "parse_scheme",
    "parse_schemes", "sp2_terms", "softmax", "window_out_len",
]
