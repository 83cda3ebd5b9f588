"""The public API: every name of grokmon.__all__ is the object its module defines; `import grokmon` stays light."""

import importlib
import subprocess
import sys

import pytest

import grokmon


@pytest.mark.parametrize("name", grokmon.__all__)
def test_public_name_is_the_module_object(name):
    assert getattr(grokmon, name) is getattr(importlib.import_module(grokmon._API[name]), name)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'pathway_string_of'"):
        grokmon.pathway_string_of  # noqa: B018


def test_package_import_loads_neither_torch_nor_numpy():
    code = "import sys, grokmon; print(sorted({'torch', 'numpy', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
