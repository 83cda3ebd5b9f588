"""Device and dtype defaults shared by every stage that runs a model: bf16 on CUDA, float32 on CPU."""

from __future__ import annotations

DTYPES = ("float32", "bfloat16", "float16")
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")


def resolve_device(device: str | None, name: str = "device") -> str:
    """`auto`/None -> 'cuda' when a GPU is visible to torch, else 'cpu'; other values are checked (`check_device`)."""
    if device not in (None, "auto"):
        return check_device(device, name)
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_device(device: str, name: str = "device") -> str:
    """`device` ('cpu', 'cuda', 'cuda:N', 'mps', 'xpu') if torch can use it here; ValueError naming `name` otherwise."""
    import torch

    allowed = "auto, cpu, cuda, cuda:N, mps, xpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"{name}: {device!r} is not a torch device; allowed: {allowed}") from None
    if parsed.type not in DEVICE_TYPES:
        raise ValueError(f"{name}: {device!r} is not a device grokmon runs models on; allowed: {allowed}")
    if parsed.type == "cpu":
        return str(device)
    backend = torch.backends.mps if parsed.type == "mps" else getattr(torch, parsed.type)
    if parsed.type == "cuda" and torch.version.cuda is None and torch.version.hip is None:
        raise ValueError(
            f"{name}: {device!r} needs CUDA, but this torch {torch.__version__} is a CPU-only build; use cpu"
        )
    if not backend.is_available():
        raise ValueError(f"{name}: {device!r}: torch sees no {parsed.type} device on this machine; use cpu (or auto)")
    if parsed.index is not None and parsed.index >= backend.device_count():
        raise ValueError(f"{name}: {device!r}: only {backend.device_count()} {parsed.type} device(s) here")
    return str(device)


def resolve_dtype(dtype: str, device: str) -> str:
    """Torch dtype name: `auto` gives bfloat16 on CUDA and float32 elsewhere."""
    if dtype == "auto":
        return "bfloat16" if str(device).startswith("cuda") else "float32"
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be 'auto' or one of {DTYPES}, got {dtype!r}")
    return dtype
