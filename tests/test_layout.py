"""The tests' layout: a test module imports shared code from the helper modules (tests/helpers/, tiny_models,
conftest), never from another test module, and neither do the helpers."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the modules that `path` imports, at any depth (imports inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_test_module_imports_another():
    modules = sorted(TESTS.glob("test_*.py"))
    assert len(modules) > 10 and Path(__file__) in modules
    offenders = {
        path.name: sorted(name for name in imported_modules(path) if name.startswith("test_")) for path in modules
    }
    offenders = {name: found for name, found in offenders.items() if found}
    assert offenders == {}, f"import shared code from tests/helpers/, not from test modules: {offenders}"


def test_helpers_import_no_test_module():
    helpers = [TESTS / "conftest.py", TESTS / "tiny_models.py", *sorted((TESTS / "helpers").glob("*.py"))]
    assert len(helpers) > 3
    offenders = {
        path.name: sorted(name for name in imported_modules(path) if name.startswith("test_")) for path in helpers
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_checker_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "test_x.py"
    module.write_text("import os\n\n\ndef test_y():\n    from test_z import w\n    import test_v.u\n")
    assert imported_modules(module) == {"os", "test_z", "test_v"}
