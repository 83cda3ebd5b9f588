"""Monitor a plain PyTorch training loop of a tiny OLMoE (CPU, a few seconds): CSV + a print logger every 10 steps."""

import tempfile
from pathlib import Path

import torch
from transformers import OlmoeForCausalLM

from grokmon import PathwayMonitor
from grokmon.workflow.toy import tiny_olmoe_config, train_tokenizer

texts = [f"{a}+{b}={a + b}" for a in range(12) for b in range(12)]  # your pretraining texts
tokenizer = train_tokenizer(texts)
torch.manual_seed(0)
model = OlmoeForCausalLM(tiny_olmoe_config(tokenizer, hidden_size=32, num_layers=4, num_experts=4))
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

csv_path = Path(tempfile.mkdtemp()) / "pathways.csv"
monitor = PathwayMonitor(
    texts[::9],  # fixed probe set: 16 texts
    tokenizer,
    every=10,
    csv_path=csv_path,
    loggers=[lambda step, m: print(f"step {step}: distance {m['distance']:.2f} C_i {m['consistency']:.3f}")],
    model=model,  # validates the architecture now (an unsupported model raises here)
)
model.train()
for step in range(1, 31):
    batch = tokenizer(texts[(step * 16) % 128 :][:16], return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    loss = model(**batch, labels=labels).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    monitor(step, model)  # measures at steps 10, 20, 30; the model is back in train mode afterwards
print(csv_path.read_text())
