"""Training: float and quantization-aware, single process or under torchrun (DDP)."""
