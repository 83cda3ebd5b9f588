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
    "capture_routes": "grokmon.routing.capture",
    "iter_capture": "grokmon.routing.capture",
    "load_model": "grokmon.routing.capture",
    "router_weights": "grokmon.routing.capture",
    "set_virtual_experts": "grokmon.routing.virtual_experts",
    # the paper's measurements
    "memorization_index": "grokmon.metrics.memorization",
    "calibrate_epsilon": "grokmon.metrics.memorization",
    "generalization_index": "grokmon.metrics.generalization",
    "match_groups": "grokmon.metrics.matching",
    "pathway_strings": "grokmon.metrics.pathways",
    "mean_pairwise_distance": "grokmon.metrics.pathways",
    "per_layer_distances": "grokmon.metrics.pathways",
    "PathwaySettings": "grokmon.metrics.pathways",
    "paper_consistency": "grokmon.metrics.consistency",
    "mean_adjacent_cosine": "grokmon.metrics.consistency",
    "correlate": "grokmon.metrics.correlation",
    # controls and verdicts
    "routing_entropy": "grokmon.claims.controls",
    "claim_verdicts": "grokmon.claims.verdicts",
    "VerdictSettings": "grokmon.claims.verdicts",
    # the live monitor
    "PathwayMonitor": "grokmon.monitor.pathway_monitor",
    "PathwayMonitorCallback": "grokmon.monitor.pathway_monitor",
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
