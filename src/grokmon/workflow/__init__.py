"""Workflow layer: what the Snakemake workflow and the `grokmon` command need around the library core: config,
jobs, artifact files, data, checkpoints, tuning and evaluation, tables and figures, the toy world. The core never
imports it."""
