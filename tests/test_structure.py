"""The package's layout and import graph: no cycles, and the runtime never reaches training-side code.

Imports are read with ``ast`` from every module of ``biomedserve/`` — module-level and inside
functions alike, since either runs the imported module. Importing ``a.b.c`` from outside ``a.b``
also runs ``a.b/__init__``, so that counts as an import of the package too.
"""

from __future__ import annotations

import ast
import graphlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "biomedserve"
# Guarded by package, never by a hand-kept list of modules: a module added under one of these is
# training-side the moment it exists (``tasks`` holds the trainable task definitions and metrics).
TRAINING_SIDE = tuple(f"biomedserve.{package}" for package in ("training", "export", "tasks"))
SERVING_SIDE = ("biomedserve.runtime", "biomedserve.serving")
ROOT_MODULES_AT_MOST = 10
FRONT_ENDS = ("cli", "serving", "spacy_component.py", "annotate")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The biomedserve modules that importing ``name`` runs, directly."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)  # ``from pkg import module``
    found = set()
    for target in targets:
        parts = target.split(".")
        for depth in range(2, len(parts) + 1):  # the module and the packages above it...
            candidate = ".".join(parts[:depth])
            inside = name == candidate or name.startswith(candidate + ".")
            if candidate in known and not inside:  # ...that are not already running
                found.add(candidate)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    """Each module → the biomedserve modules it imports."""
    found = modules()
    return {name: imported(name, path, set(found)) for name, path in found.items()}


def reached(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module that importing ``start`` may run, itself excluded."""
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def test_the_graph_is_read(graph):
    # the reader sees what it must: a module-level import, and one inside a function
    assert "biomedserve.modeldir.card" in graph["biomedserve.runtime.predictor"]
    assert "biomedserve.runtime" in graph["biomedserve.cli.model"]


def test_no_import_cycles(graph):
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail("import cycle: " + " → ".join(reversed(exc.args[1])))


def under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def training_side_reached(graph: dict[str, set[str]], start: str) -> list[str]:
    return sorted(m for m in reached(graph, start) if under(m, TRAINING_SIDE))


def test_the_runtime_and_serving_reach_nothing_of_training_export_or_tasks(graph):
    for module in [m for m in graph if under(m, SERVING_SIDE)]:
        assert training_side_reached(graph, module) == [], f"{module} reaches training-side code"


def test_serving_reads_no_training_data(graph):
    serving = set().union(*(reached(graph, m) for m in graph if m.startswith("biomedserve.serving")))
    assert sorted(m for m in serving if under(m, TRAINING_SIDE + ("biomedserve.data",))) == []


def test_the_guard_catches_a_new_training_module(graph):
    # a module that did not exist when the guard was written is caught by its package alone
    fake = {**graph, "biomedserve.training.brand_new": set(),
            "biomedserve.runtime.predictor": graph["biomedserve.runtime.predictor"] | {"biomedserve.training.brand_new"}}
    assert training_side_reached(fake, "biomedserve.runtime.predictor") == ["biomedserve.training.brand_new"]


def test_the_root_holds_only_leaf_modules():
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= ROOT_MODULES_AT_MOST, root
    for package in ("text", "data", "modeldir", "modeling", "tasks", "training", "export", "runtime", "serving",
                    "annotate", "cli"):
        assert (PACKAGE / package / "__init__.py").is_file(), package


def test_no_front_end_names_a_task_type():
    from biomedserve.modeldir.task_types import TASK_TYPES
    from biomedserve.runtime import builtin  # noqa: F401  (the built-in task types)

    names = set(TASK_TYPES)
    assert {"ner", "qa", "doc_classification"} <= names
    front = [p for entry in FRONT_ENDS for p in ([PACKAGE / entry] if entry.endswith(".py")
                                                  else sorted((PACKAGE / entry).rglob("*.py")))]
    front.append(PACKAGE.parent / "service" / "service.py")
    found = [f"{p.name}:{node.lineno} {node.value!r}" for p in front
             for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
             if isinstance(node, ast.Constant) and node.value in names]
    assert found == []


def test_the_readme_is_a_user_guide_and_the_results_live_with_the_benchmarks():
    root = PACKAGE.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    assert "## Results" not in readme and "benchmarks/README.md" in readme
    assert re.search(r"\bissue \d+|\bsession\b", readme) is None  # status talk belongs in issues, not the guide
    write_up = (root / "benchmarks" / "README.md").read_text(encoding="utf-8")
    for report in ("blurb_minilm.md", "vs_scispacy.md", "ner_multitype.md", "inference_cpu.md", "pretrain.md"):
        assert report in write_up and (root / "benchmarks" / "results" / report).is_file(), report


def test_no_benchmark_edits_sys_path():
    root = PACKAGE.parent / "benchmarks"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py") if "sys.path" in p.read_text(encoding="utf-8")]
    assert offenders == []
