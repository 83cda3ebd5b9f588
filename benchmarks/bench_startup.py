"""Benchmark: each model rule's start-up cost, process start to first model forward, against a bare `import torch`.

Run on demand: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_startup.py [--repeats 3]
A model job (`routes`, `lora`, `evaluate`) is a fresh Python process: Snakemake's script preamble (`import snakemake`),
the rule script's own imports (read from workflow/scripts/{rule}.py), the libraries its functions import when called
(peft for `lora`; lm-eval and peft for `evaluate`), then loading the checkpoint and its first forward. Each child
process does exactly that on a tiny OLMoE saved here and reports the seconds since its parent started it; the bare
`import torch` child is the floor. Best of `--repeats`, in wall time (the cores may be shared: compare ratios).
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What each rule's functions import when they run (not at the script's top level).
LAZY_IMPORTS = {"routes": [], "lora": ["peft"], "evaluate": ["lm_eval", "lm_eval.tasks", "peft"]}

# A child process: IMPORTS, then load the checkpoint and run one forward; prints seconds since START (parent's clock).
CHILD = """
import time
IMPORTS
import torch
from grokmon.routing.capture import load_model
model, tokenizer = load_model(CHECKPOINT, device="cpu", dtype="float32")
with torch.no_grad():
    model(**tokenizer(["1+2=3"], return_tensors="pt"))
print(time.time() - START)
"""


def script_imports(rule: str) -> list[str]:
    """The top-level import statements of workflow/scripts/{rule}.py, as source lines."""
    tree = ast.parse((REPO / "workflow" / "scripts" / f"{rule}.py").read_text())
    return [ast.unparse(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]


def child_seconds(code: str) -> float:
    """Seconds from just before starting `python -c code` (START replaced by the clock then) until the child prints."""
    start = time.time()
    out = subprocess.run([sys.executable, "-c", code.replace("START", repr(start))], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


def save_tiny_checkpoint(path: Path) -> None:
    """A tiny OLMoE (the toy recipe) and its tokenizer, saved as a checkpoint directory."""
    from transformers import AutoModelForCausalLM

    from grokmon.workflow.toy import TEST_SIZES, build_world, tiny_olmoe_config, train_tokenizer
    from grokmon.workflow.toy.pretrain import save_checkpoint

    corpus = [text for domain in build_world(0, TEST_SIZES).values() for text in domain.corpus]
    tokenizer = train_tokenizer(corpus)
    save_checkpoint(AutoModelForCausalLM.from_config(tiny_olmoe_config(tokenizer)), tokenizer, path)


def main() -> None:
    """Print each model rule's start-up seconds (best of --repeats) and its ratio to a bare `import torch`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "checkpoint"
        save_tiny_checkpoint(checkpoint)
        floor = min(child_seconds("import time\nimport torch\nprint(time.time() - START)") for _ in range(args.repeats))
        print(f"{'process':<10} {'seconds':>8} {'x import torch':>15}")
        print(f"{'torch':<10} {floor:8.2f} {1.0:15.2f}")
        for rule, lazy in LAZY_IMPORTS.items():
            imports = ["import snakemake", *script_imports(rule), *(f"import {m}" for m in lazy)]
            code = CHILD.replace("CHECKPOINT", repr(str(checkpoint))).replace("IMPORTS", "\n".join(imports))
            seconds = min(child_seconds(code) for _ in range(args.repeats))
            print(f"{rule:<10} {seconds:8.2f} {seconds / floor:15.2f}")


if __name__ == "__main__":
    main()
