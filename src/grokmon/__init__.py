"""grokmon: monitor memorization-to-generalization in MoE pretraining from routing pathways.

The public API, importable from ``grokmon``. Names load on first use (PEP 562), so ``import grokmon`` stays light:
the metrics need numpy, the capture and the monitor torch and transformers.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it
_API = {
    # routing capture and the architecture registry
    "capture_routes": "grokmon.capture",
    "iter_capture": "grokmon.capture",
    "load_model": "grokmon.capture",
    "router_weights": "grokmon.capture",
    "set_virtual_experts": "grokmon.virtual_experts",
    # the paper's measurements
    "memorization_index": "grokmon.memorization",
    "calibrate_epsilon": "grokmon.memorization",
    "generalization_index": "grokmon.generalization",
    "match_groups": "grokmon.matching",
    "pathway_strings": "grokmon.pathways",
    "mean_pairwise_distance": "grokmon.pathways",
    "per_layer_distances": "grokmon.pathways",
    "paper_consistency": "grokmon.consistency",
    "mean_adjacent_cosine": "grokmon.consistency",
    "correlate": "grokmon.correlation",
    # controls and verdicts
    "routing_entropy": "grokmon.controls",
    "claim_verdicts": "grokmon.verdicts",
    "VerdictSettings": "grokmon.verdicts",
    # the live monitor
    "PathwayMonitor": "grokmon.monitor",
    "PathwayMonitorCallback": "grokmon.monitor",
}
__all__ = sorted(_API)


def __getattr__(name: str):
    """Load a public name from its module on first use."""
    if name not in _API:
        raise AttributeError(f"module 'grokmon' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
