"""Tests for grokmon.workflow.numerics: pinned CPU numerics give the same checkpoint whatever dispatch level a CPU
forces."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from grokmon.workflow import numerics

REPO = Path(__file__).resolve().parents[1]

# A few steps of toy pretraining in a fresh process (the pins are read when torch and numpy load); prints the sha256
# of the saved checkpoint's weights file.
PRETRAIN = """
import hashlib, sys, tempfile
from pathlib import Path
from grokmon.workflow.toy import TEST_SIZES, build_world, pretrain, tiny_olmoe_config, train_tokenizer
corpus = [t for d in build_world(0, TEST_SIZES).values() for t in d.corpus]
tok = train_tokenizer(corpus)
config = tiny_olmoe_config(tok, hidden_size=16, num_layers=2, num_heads=2, num_experts=4, expert_size=16)
with tempfile.TemporaryDirectory() as out:
    pretrain(corpus, tok, config, out_dir=out, steps=8, save_steps=[8], batch_size=16, warmup=2, progress=False)
    print(hashlib.sha256((Path(out) / "8" / "model.safetensors").read_bytes()).hexdigest())
"""

# Dispatch levels a CPU may pick by itself: this machine's best, and the lowest that torch, MKL and numpy's OpenBLAS
# can be forced to. MKL_ENABLE_INSTRUCTIONS is a ceiling the pin leaves alone, as a CPU without AVX2 would impose.
LEVELS = {
    "native": {},
    "lowest": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "OPENBLAS_CORETYPE": "Prescott"},
}

# sha256 of PRETRAIN's checkpoint under the pin with the pinned stack (requirements.txt, torch 2.13.0), measured on an
# Intel Xeon with AVX-512 and AMX (Sapphire Rapids) and on an AMD EPYC-Rome emulated by QEMU (docs/reproducibility.md).
# Another CPU must give it too; a different torch/transformers version changes it.
PINNED_SHA256 = "1b35a40bc07298e56f05c39f2f23a95978ca2aad93ded58cd3bc24346c31b01d"


def _checkpoint_sha(level: dict[str, str], pinned: bool) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in numerics.PORTABLE}
    env.update(level)
    if pinned:
        numerics.apply("portable", env)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    return subprocess.Popen([sys.executable, "-c", PRETRAIN], env=env, stdout=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def checkpoints() -> dict[tuple[str, bool], str]:
    """{(level, pinned): checkpoint sha256} of the four runs, two at a time."""
    keys = [(level, pinned) for pinned in (False, True) for level in LEVELS]
    shas = {}
    for pair in (keys[:2], keys[2:]):
        procs = {key: _checkpoint_sha(LEVELS[key[0]], key[1]) for key in pair}
        for key, proc in procs.items():
            out, _ = proc.communicate(timeout=300)
            assert proc.returncode == 0, f"pretraining at level {key} failed"
            shas[key] = out.strip().splitlines()[-1]
    return shas


def test_forced_dispatch_levels_change_unpinned_checkpoints(checkpoints):
    assert checkpoints[("native", False)] != checkpoints[("lowest", False)]


def test_pinned_checkpoints_are_identical_across_dispatch_levels(checkpoints):
    assert checkpoints[("native", True)] == checkpoints[("lowest", True)]


def test_pinned_checkpoint_matches_the_one_measured_on_another_cpu(checkpoints):
    assert checkpoints[("native", True)] == PINNED_SHA256


def test_cpu_env_modes():
    assert numerics.cpu_env("portable") == numerics.PORTABLE
    assert numerics.PORTABLE["ATEN_CPU_CAPABILITY"] == "default"
    assert numerics.PORTABLE["MKL_CBWR"] == "COMPATIBLE"
    assert numerics.cpu_env("native") == {}
    with pytest.raises(ValueError, match="cpu_numerics must be one of"):
        numerics.cpu_env("avx512")


def test_apply_overrides_existing_values_and_describe_reports_the_mode():
    env = {"ATEN_CPU_CAPABILITY": "avx512", "HOME": "/home/x"}
    assert numerics.describe(env).startswith("cpu_numerics=native ")
    assert numerics.apply("portable", env) == numerics.PORTABLE
    assert env == {**numerics.PORTABLE, "HOME": "/home/x"}
    assert numerics.describe(env).startswith("cpu_numerics=portable ")
    env["MKL_CBWR"] = "AUTO"
    assert numerics.describe(env).startswith(f"cpu_numerics=partial({len(numerics.PORTABLE) - 1}/")


def test_this_process_and_its_children_run_pinned():
    """conftest.py pins the test session before torch loads: torch runs its generic kernels here."""
    import torch

    assert all(os.environ[k] == v for k, v in numerics.PORTABLE.items())
    assert torch.backends.cpu.get_cpu_capability() == "DEFAULT"


def test_makefile_exports_the_module_values():
    env = {k: v for k, v in os.environ.items() if k not in numerics.PORTABLE}
    show = "include Makefile\nshow-env:\n\t@env\n"
    out = subprocess.run(
        ["make", "-s", "-f", "-", "show-env"], input=show, cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout
    exported = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert {k: exported.get(k) for k in numerics.PORTABLE} == numerics.PORTABLE


def test_the_pinned_hash_seed_fixes_the_order_of_a_set_of_strings_across_processes():
    code = "print(list({'q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'}))"
    env = {**os.environ, **numerics.PORTABLE}
    orders = {
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout for _ in range(4)
    }
    assert len(orders) == 1 and orders != {""}
