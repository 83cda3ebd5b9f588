"""The package's two layers: the library core (what a training loop imports) imports nothing from the workflow layer,
nor Snakemake, peft or lm-eval; every module of src/grokmon belongs to exactly one layer (a new one must be placed)."""

import ast
from pathlib import Path

import pytest

import grokmon

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "grokmon"
# layer -> the entries of src/grokmon (subpackages, modules) that hold its modules
LAYERS = {
    "core": ("__init__.py", "files", "routing", "metrics", "claims", "ablations", "monitor"),
    "workflow": ("workflow",),
}
CORE_MUST_NOT_IMPORT = ("grokmon.workflow", "snakemake", "peft", "lm_eval")


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """Dotted name of the module at `path` under the directory `package` (a package's __init__ is the package)."""
    parts = [package.name, *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, package: Path = PACKAGE) -> set[str]:
    """Dotted names that `path` imports, at any depth (imports inside functions too), relative imports resolved;
    `from a import b` gives a and a.b (b may be a module)."""
    own = module_name(path, package).split(".")
    if path.name != "__init__.py":
        own = own[:-1]  # the package a relative import starts from
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = own[: len(own) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return names


def layers_of(path: Path) -> list[str]:
    top = path.relative_to(PACKAGE).parts[0]
    return [layer for layer, entries in LAYERS.items() if top in entries]


def modules_of(layer: str) -> list[Path]:
    return [path for path in sorted(PACKAGE.rglob("*.py")) if layers_of(path) == [layer]]


def forbidden_in_core(name: str) -> bool:
    return any(name == banned or name.startswith(f"{banned}.") for banned in CORE_MUST_NOT_IMPORT)


def test_every_module_belongs_to_exactly_one_layer():
    entries = [entry for held in LAYERS.values() for entry in held]
    assert len(entries) == len(set(entries)), "an entry of src/grokmon is listed in both layers"
    unplaced = [str(p.relative_to(PACKAGE)) for p in sorted(PACKAGE.rglob("*.py")) if len(layers_of(p)) != 1]
    assert unplaced == [], f"place these modules in one layer (LAYERS): {unplaced}"
    on_disk = [p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or (p.is_dir() and any(p.rglob("*.py")))]
    assert sorted(entries) == sorted(on_disk), "LAYERS lists every subpackage and top-level module, and nothing else"
    assert len(modules_of("core")) > 15 and len(modules_of("workflow")) > 15


@pytest.mark.parametrize("path", modules_of("core"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_module_imports_no_workflow_snakemake_peft_or_lm_eval(path):
    offenders = sorted(name for name in imported_modules(path) if forbidden_in_core(name))
    assert offenders == [], f"the library core must not import {offenders}: move that code to grokmon.workflow"


def test_public_api_names_core_modules_only():
    workflow = sorted(name for name, module in grokmon._API.items() if forbidden_in_core(module))
    assert workflow == []


def test_the_checker_sees_nested_and_relative_imports(tmp_path):
    package = tmp_path / "grokmon"
    (package / "metrics").mkdir(parents=True)
    module = package / "metrics" / "x.py"
    module.write_text(
        "import os\n\n\ndef f():\n    from ..workflow import io\n    from . import y\n    import peft.tuners\n"
    )
    assert imported_modules(module, package) == {
        "os",
        "grokmon.workflow",
        "grokmon.workflow.io",
        "grokmon.metrics",
        "grokmon.metrics.y",
        "peft.tuners",
    }
    assert module_name(module, package) == "grokmon.metrics.x"
    assert forbidden_in_core("grokmon.workflow.io") and forbidden_in_core("peft.tuners")
    assert not forbidden_in_core("grokmon.workflows") and not forbidden_in_core("lm_evaluation")
