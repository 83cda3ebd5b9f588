"""The offline demo's toy world: synthetic domains, character tokenizer, tiny OLMoE (or its dense OLMo2 twin),
pretraining with checkpoints."""

from grokmon.workflow.toy.model import tiny_dense_config, tiny_olmoe_config, toy_model_config, train_tokenizer
from grokmon.workflow.toy.pretrain import pretrain, save_checkpoint
from grokmon.workflow.toy.world import (
    DEMO_SIZES,
    DOMAINS,
    PROMPT_TEMPLATE,
    TEST_SIZES,
    ToyDomain,
    ToySizes,
    build_world,
    write_world,
)

__all__ = [
    "DEMO_SIZES",
    "DOMAINS",
    "PROMPT_TEMPLATE",
    "TEST_SIZES",
    "ToyDomain",
    "ToySizes",
    "build_world",
    "pretrain",
    "save_checkpoint",
    "tiny_dense_config",
    "tiny_olmoe_config",
    "toy_model_config",
    "train_tokenizer",
    "write_world",
]
