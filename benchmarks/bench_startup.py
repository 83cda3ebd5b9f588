"""Benchmark: each model rule's start-up cost, process start to first model forward, against a bare `import torch`.

Run on demand: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_startup.py [--repeats 3]
A model job (`routes`, `lora`, `evaluate`) is a fresh Python process: Snakemake's script preamble (`import snakemake`),
the rule script's own imports (read from workflow/scripts/{rule}.py), the libraries its functions import when called
(peft for `lora`; lm-eval and peft for `evaluate`), then loading the checkpoint and its first forward. Each child
process does exactly that on a tiny OLMoE saved here and reports the seconds since its parent started it; the bare
`import torch` child is the floor. Best of `--repeats`, in wall time (the cores may be shared: compare ratios).
The `warm` rows run the same child as a local workflow run does (config job_server): its first statement hands it to
a warm job server (grokmon.workflow.job_server), which forks it with the libraries already imported.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grokmon.workflow import job_server

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


def child_seconds(code: str, script: Path) -> float:
    """Seconds from just before starting `python script` (code, START replaced by the clock then) until it prints."""
    start = time.time()
    script.write_text(code.replace("START", repr(start)))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


def wait_for(path: str, seconds: float = 300) -> None:
    """Wait until the job server's socket `path` exists (the server has made its imports)."""
    deadline = time.time() + seconds
    while not Path(path).exists():
        if time.time() > deadline:
            raise RuntimeError(f"no job server socket at {path} after {seconds} s")
        time.sleep(0.1)


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
        checkpoint, script = Path(tmp) / "checkpoint", Path(tmp) / "job.py"
        save_tiny_checkpoint(checkpoint)
        floor_code = "import time\nimport torch\nprint(time.time() - START)"
        floor = min(child_seconds(floor_code, script) for _ in range(args.repeats))
        codes = {}
        for rule, lazy in LAZY_IMPORTS.items():
            # As a workflow job: the preamble's snakemake, the hand-off (no-op without a server), the script's imports.
            imports = ["import snakemake", "from grokmon.workflow.job_server import hand_off", "hand_off()"]
            imports += [line for line in script_imports(rule) if "hand_off" not in line]
            imports += [f"import {m}" for m in lazy]
            codes[rule] = CHILD.replace("CHECKPOINT", repr(str(checkpoint))).replace("IMPORTS", "\n".join(imports))
        seconds = {rule: min(child_seconds(code, script) for _ in range(args.repeats)) for rule, code in codes.items()}
        os.environ.update(dict.fromkeys(job_server.THREAD_ENV, "1"))  # as Snakemake starts a one-thread job
        server, path = job_server.start(tmp)
        try:
            wait_for(path)
            warm = {rule: min(child_seconds(code, script) for _ in range(args.repeats)) for rule, code in codes.items()}
        finally:
            job_server.stop(server, path)
        print(f"{'process':<16} {'seconds':>8} {'x import torch':>15}")
        print(f"{'torch':<16} {floor:8.2f} {1.0:15.2f}")
        for rule in codes:
            print(f"{rule:<16} {seconds[rule]:8.2f} {seconds[rule] / floor:15.2f}")
            print(f"{rule + ' (warm)':<16} {warm[rule]:8.2f} {warm[rule] / floor:15.2f}")


if __name__ == "__main__":
    main()
