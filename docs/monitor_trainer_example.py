"""Monitor a transformers Trainer run of a tiny OLMoE (CPU, a few seconds) with the PathwayMonitor callback."""

import tempfile

import torch
from transformers import DataCollatorForLanguageModeling, OlmoeForCausalLM, Trainer, TrainingArguments

from grokmon import PathwayMonitor
from grokmon.workflow.toy import tiny_olmoe_config, train_tokenizer

texts = [f"{a}*{b}={a * b}" for a in range(12) for b in range(12)]  # your pretraining texts
tokenizer = train_tokenizer(texts)
torch.manual_seed(0)
model = OlmoeForCausalLM(tiny_olmoe_config(tokenizer, hidden_size=32, num_layers=4, num_experts=4))
out_dir = tempfile.mkdtemp()

monitor = PathwayMonitor(texts[::9], tokenizer, every=10, csv_path=f"{out_dir}/pathways.csv")
args = TrainingArguments(
    output_dir=out_dir, max_steps=30, per_device_train_batch_size=16, learning_rate=3e-3,
    use_cpu=True, report_to=[], save_strategy="no", logging_strategy="no", disable_tqdm=True,
)
trainer = Trainer(
    model=model,
    args=args,
    train_dataset=[{"input_ids": ids} for ids in tokenizer(texts)["input_ids"]],
    data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
    callbacks=[monitor.as_trainer_callback()],  # measures at global steps 10, 20, 30
)
trainer.train()
for row in monitor.history:
    print(row["step"], round(row["loss"], 3), round(row["distance"], 2), round(row["consistency"], 3))
