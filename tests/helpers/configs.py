"""The workflow's config schema and the body the semantic-check tests share: an edited config fails naming the key."""

import copy

import pytest
from conftest import REPO

from grokmon.workflow.config import ConfigError, validate_config

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def assert_config_error(config: dict, edit, expected: list[str]) -> None:
    """`edit` applied to a copy of `config` makes validation raise a ConfigError whose message holds each `expected`."""
    config = copy.deepcopy(config)
    edit(config)
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA)
    for text in expected:
        assert text in str(err.value)
