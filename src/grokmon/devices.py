"""Device and dtype defaults shared by every stage that runs a model: bf16 on CUDA, float32 on CPU."""

from __future__ import annotations

DTYPES = ("float32", "bfloat16", "float16")


def resolve_device(device: str | None) -> str:
    """`auto`/None -> 'cuda' when a GPU is visible to torch, else 'cpu'; other values pass through."""
    if device not in (None, "auto"):
        return str(device)
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str, device: str) -> str:
    """Torch dtype name: `auto` gives bfloat16 on CUDA and float32 elsewhere."""
    if dtype == "auto":
        return "bfloat16" if str(device).startswith("cuda") else "float32"
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be 'auto' or one of {DTYPES}, got {dtype!r}")
    return dtype
