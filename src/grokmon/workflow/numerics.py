"""CPU numerics: the environment that makes one commit and seed give the same bits on any x86-64 CPU.

torch, MKL, OpenBLAS and numpy each pick their kernels by the CPU they find (AVX-512, AVX2, SSE) and by the
number of threads; different kernels round differently, and a few ulps in one pretraining step grow into
different checkpoints. ``PORTABLE`` pins every one of those choices to a code path that every x86-64-v2 CPU
has, Intel or AMD, with or without AVX-512/AMX. The libraries read these variables once, when they load, so
they must be in the environment before torch or numpy is imported: `apply` is for processes that start others
(Snakemake, pytest), the Makefile exports the same values (``python3 src/grokmon/workflow/numerics.py`` prints them).
docs/reproducibility.md says what each one does and what it costs. Only the standard library here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

MODES = ("portable", "native")

PORTABLE: dict[str, str] = {
    # torch's own vectorised kernels (softmax, exp, norms, reductions, Adam): the generic build, no AVX2/AVX-512.
    "ATEN_CPU_CAPABILITY": "default",
    # MKL's sgemm (every fp32 matmul of torch on CPU): the SSE2 branch without rcpps/rsqrtps, fixed blocking and
    # reduction order: MKL's one branch documented to give the same results on Intel and non-Intel CPUs.
    "MKL_CBWR": "COMPATIBLE",
    # oneDNN (torch.backends.mkldnn): unused by fp32 training and inference here; capped should a path reach it.
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    # numpy's bundled OpenBLAS (np.dot, np.matmul): the Nehalem (SSE4.2) kernels instead of Haswell/SkylakeX/Zen.
    "OPENBLAS_CORETYPE": "Nehalem",
    # numpy's own SIMD loops (exp, log, sin, sort, ...): its x86-64-v2 baseline only.
    "NPY_DISABLE_CPU_FEATURES": "X86_V3,X86_V4,AVX512_ICL,AVX512_SPR",
    # One thread everywhere: thread counts split reductions differently, and MKL/OpenMP may change it on the fly.
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_DYNAMIC": "FALSE",
    "OMP_DYNAMIC": "FALSE",
    # Python's string hashing, hence the iteration order of sets of strings written to artifacts (peft saves its
    # target_modules set in adapter_config.json): fixed instead of random per process.
    "PYTHONHASHSEED": "0",
}


def cpu_env(mode: str) -> dict[str, str]:
    """The variables `mode` sets: PORTABLE for "portable", none for "native" (each library picks for this CPU)."""
    if mode not in MODES:
        raise ValueError(f"cpu_numerics must be one of {list(MODES)}, got {mode!r}")
    return dict(PORTABLE) if mode == "portable" else {}


def apply(mode: str, environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Set `mode`'s variables in `environ` (overriding any value there); returns them. Before torch/numpy load."""
    pins = cpu_env(mode)
    environ.update(pins)
    return pins


def adamw(params, **options):
    """`torch.optim.AdamW` (params, **options) with ``fused=True``, the one AdamW of grokmon's training loops.

    The unfused AdamW takes the square root of its second moment with ``torch.sqrt``, which MKL's vector math
    (VML) computes on CPU whatever the pins: its result differs in the last bit between an Intel Xeon with AVX-512
    and an AMD EPYC (docs/reproducibility.md). The fused kernel is torch's own (``ATEN_CPU_CAPABILITY``) and rounds
    its square root exactly.
    """
    import torch  # here, not at the top: this module is standard-library only (the Makefile runs it first)

    return torch.optim.AdamW(params, fused=True, **options)


def describe(environ: MutableMapping[str, str] = os.environ) -> str:
    """One line for job logs: "cpu_numerics=portable|native|partial" and torch's dispatch level if it is loaded."""
    held = sum(environ.get(k) == v for k, v in PORTABLE.items())
    mode = "portable" if held == len(PORTABLE) else "native" if held == 0 else f"partial({held}/{len(PORTABLE)})"
    torch = sys.modules.get("torch")
    capability = torch.backends.cpu.get_cpu_capability() if torch is not None else "not loaded"
    return f"cpu_numerics={mode} torch_cpu_capability={capability}"


if __name__ == "__main__":  # the Makefile's source of the pinned values: "NAME=value" pairs on one line
    print(" ".join(f"{k}={v}" for k, v in PORTABLE.items()))
