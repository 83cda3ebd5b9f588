"""GPU cost of the paper path, measured on OLMoE-1B-7B's architecture with random weights (no download).

Builds the model from OLMoE-1B-7B-0924's config values (16 layers, 64 experts, top-8, hidden 2048, vocab 50304)
in bf16 on one CUDA device and measures (1) route capture tokens/s on `--seq`-token sequences and its time as a
fraction of a plain forward pass of the same batch, (2) one LoRA step (batch 4 x `--seq`, r 32 on q/k/v): time and
peak memory, (3) greedy generation tokens/s at the evaluate rule's batch size. It then prints the GPU hours these
imply for config/olmoe.yaml, assuming every sequence is `--seq` tokens long (an upper bound: most are shorter).
`--size tiny` runs the same code on a model a thousand times smaller, on CPU, so the tests keep it working.

Run: .venv/bin/python benchmarks/bench_gpu_paper.py            (CUDA, the real size, a few minutes)
     OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_gpu_paper.py --size tiny --device cpu
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from peft import LoraConfig, get_peft_model
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import OlmoeConfig, OlmoeForCausalLM, PreTrainedTokenizerFast

from grokmon.routing.capture import capture_routes
from grokmon.workflow.config import tuning_keys, validate_config

REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIG = REPO / "config" / "olmoe.yaml"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
# OLMoE-1B-7B-0924's config.json values (architecture only; weights are random).
SIZES = {
    "olmoe-1b-7b": dict(
        vocab_size=50304,
        hidden_size=2048,
        intermediate_size=1024,
        num_hidden_layers=16,
        num_attention_heads=16,
        num_key_value_heads=16,
        num_experts=64,
        num_experts_per_tok=8,
        max_position_embeddings=4096,
    ),
    "tiny": dict(
        vocab_size=1024,
        hidden_size=64,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        num_experts=8,
        num_experts_per_tok=2,
        max_position_embeddings=256,
    ),
}
LORA_BATCH, REPEATS = 4, 3


@dataclass(frozen=True)
class Measured:
    """What one run measured: throughputs in tokens/s, the LoRA step in s and its peak memory in GiB (CUDA only)."""

    capture_tokens_per_s: float
    capture_over_forward: float
    lora_step_s: float
    lora_peak_gib: float
    generate_tokens_per_s: float


def word_tokenizer(vocab: int, max_length: int) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over `w0 ... w{vocab-4}` (one token per word), built offline."""
    words = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{f"w{i}": i + 3 for i in range(vocab - 3)}}
    tok = Tokenizer(models.WordLevel(words, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>", model_max_length=max_length
    )


def random_texts(n: int, words: int, vocab: int, seed: int = 0) -> list[str]:
    """n texts of exactly `words` tokens each."""
    rng = np.random.default_rng(seed)
    return [" ".join(f"w{i}" for i in rng.integers(0, vocab - 3, size=words)) for _ in range(n)]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _best_seconds(fn, device: str) -> float:
    """Best wall time of REPEATS calls after one warm-up call."""
    fn()
    times = []
    for _ in range(REPEATS):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return min(times)


def measure(size: str, device: str, seq: int, batch: int, gen_batch: int, gen_tokens: int) -> Measured:
    """Run the three measurements on the `size` model (bf16 on CUDA, float32 on CPU)."""
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    cfg = SIZES[size]
    torch.manual_seed(0)
    tok = word_tokenizer(cfg["vocab_size"], seq)
    config = OlmoeConfig(**cfg, pad_token_id=0, eos_token_id=1, bos_token_id=1)
    model = OlmoeForCausalLM(config).to(device=device, dtype=dtype).eval()
    texts = random_texts(batch, seq, cfg["vocab_size"])

    capture_s = _best_seconds(
        lambda: capture_routes(model, tok, texts, batch_size=batch, max_length=seq, device=device, progress=False),
        device,
    )
    enc = tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=seq).to(device)
    with torch.inference_mode():
        forward_s = _best_seconds(lambda: model(**enc, use_cache=False), device)

    lora = LoraConfig(r=32, lora_alpha=64, lora_dropout=0.1, target_modules=["q_proj", "k_proj", "v_proj"])
    tuned = get_peft_model(model, lora).train()
    optimizer = torch.optim.AdamW([p for p in tuned.parameters() if p.requires_grad], lr=5e-5)
    ids = enc["input_ids"][:1].repeat(LORA_BATCH, 1)

    def lora_step():
        loss = tuned(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    lora_s = _best_seconds(lora_step, device)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else float("nan")
    model = tuned.unload().eval()

    prompts = tok(random_texts(gen_batch, 64, cfg["vocab_size"], seed=1), return_tensors="pt", padding=True).to(device)
    with torch.inference_mode():
        gen_s = _best_seconds(
            lambda: model.generate(
                **prompts, max_new_tokens=gen_tokens, min_new_tokens=gen_tokens, do_sample=False, pad_token_id=0
            ),
            device,
        )
    tokens = batch * seq
    return Measured(tokens / capture_s, capture_s / forward_s, lora_s, peak, gen_batch * gen_tokens / gen_s)


def paper_gpu_hours(m: Measured, seq: int, config_path: Path = PAPER_CONFIG) -> dict[str, float]:
    """GPU hours per stage of config/olmoe.yaml implied by `m`, every sequence taken as `seq` tokens long."""
    config = validate_config(yaml.safe_load(config_path.read_text()), SCHEMA)
    steps, domains = len(config["checkpoints"]["steps"]), config["domains"]
    captured = sum(d["data"]["train"]["n"] + d["data"]["validation"]["n"] for d in domains.values())
    # one LoRA run per checkpoint and distinct tuning: domains with the same SFT data share one adapter
    tunings = {key: domain for domain, key in tuning_keys(config).items()}
    sft_steps = sum(
        config["lora"]["epochs"] * domains[d]["data"]["sft"]["n"] / config["lora"]["batch_size"]
        for d in tunings.values()
    )
    generated = (
        7_500 * 1024 + 164 * 512
    )  # DART-Math and HumanEval+ items x max new tokens (docs/reproducing-the-paper.md)
    return {
        "routes": steps * captured * seq / m.capture_tokens_per_s / 3600,
        "lora": steps * sft_steps * m.lora_step_s / 3600,
        "evaluate (generation)": steps * generated / m.generate_tokens_per_s / 3600,
    }


def main(argv=None) -> Measured:
    """Measure, print the table and the implied GPU hours; return the measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="olmoe-1b-7b")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seq", type=int, default=2048, help="tokens per sequence (routes and LoRA)")
    parser.add_argument("--batch", type=int, default=8, help="routes batch size (config/olmoe.yaml routes.batch_size)")
    parser.add_argument("--gen-batch", type=int, default=16, help="evaluate batch size (evaluation.batch_size)")
    parser.add_argument("--gen-tokens", type=int, default=256, help="new tokens per generated answer")
    args = parser.parse_args(argv)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    m = measure(args.size, args.device, args.seq, args.batch, args.gen_batch, args.gen_tokens)
    print(f"model {args.size} on {name}, sequences of {args.seq} tokens")
    print(
        f"| route capture | {m.capture_tokens_per_s:,.0f} tokens/s | {m.capture_over_forward:.2f} x a plain forward |"
    )
    print(
        f"| LoRA step (batch {LORA_BATCH} x {args.seq}, r 32, q/k/v) | {m.lora_step_s:.3f} s "
        f"| peak {m.lora_peak_gib:.1f} GiB |"
    )
    print(f"| greedy generation (batch {args.gen_batch}) | {m.generate_tokens_per_s:,.0f} new tokens/s | |")
    if args.size == "olmoe-1b-7b":
        hours = paper_gpu_hours(m, args.seq)
        for stage, h in hours.items():
            print(f"| {stage} | {h:.1f} GPU hours (config/olmoe.yaml, upper bound) |")
        print(f"| total | {sum(hours.values()):.1f} GPU hours on {name} |")
    return m


if __name__ == "__main__":
    main()
