"""Board profiles (device resources, clock, engine geometry, SP2:fixed ratio)."""
from .profiles import (PROFILES, BoardProfile, RowSplit, get_profile, mixed_speedup, row_split,
                       sp2_row_share)

__all__ = ["PROFILES", "BoardProfile", "RowSplit", "get_profile", "mixed_speedup", "row_split",
           "sp2_row_share"]
