"""Model bundles: the one-file, numpy-only form of a compiled MSP model (docs/formats.md)."""
from .container import BundleError, read_container, write_container

__all__ = ["BundleError", "read_container", "write_container"]
