"""The package's import graph: no cycles, and the runtime never reaches training-side code.

Imports are read with ``ast`` from every module of ``biomedserve/`` — module-level and inside
functions alike, since either runs the imported module. Importing ``a.b.c`` from outside ``a.b``
also runs ``a.b/__init__``, so that counts as an import of the package too.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "biomedserve"
TRAINING_SIDE = ("biomedserve.tasks", "biomedserve.training", "biomedserve.export", "biomedserve.evaluation",
                 "biomedserve.variants", "biomedserve.sweep", "biomedserve.stabilise")
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
    assert "biomedserve.modeldir" in graph["biomedserve.runtime.predictor"]
    assert "biomedserve.runtime" in graph["biomedserve.cli.model"]


def test_no_import_cycles(graph):
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail("import cycle: " + " → ".join(reversed(exc.args[1])))


def test_the_runtime_reaches_nothing_of_training_export_evaluation_or_metrics(graph):
    for module in [m for m in graph if m.startswith("biomedserve.runtime")]:
        bad = sorted(m for m in reached(graph, module) if m.startswith(TRAINING_SIDE))
        assert bad == [], f"{module} reaches {bad}"


def test_serving_reaches_nothing_of_training(graph):
    serving = set().union(*(reached(graph, m) for m in graph if m.startswith("biomedserve.serving")))
    assert sorted(m for m in serving if m.startswith(TRAINING_SIDE + ("biomedserve.data",))) == []


def test_no_front_end_names_a_task_type():
    from biomedserve.runtime import builtin  # noqa: F401  (the built-in task types)
    from biomedserve.tasktypes import TASK_TYPES

    names = set(TASK_TYPES)
    assert {"ner", "qa", "doc_classification"} <= names
    front = [p for entry in FRONT_ENDS for p in ([PACKAGE / entry] if entry.endswith(".py")
                                                  else sorted((PACKAGE / entry).rglob("*.py")))]
    front.append(PACKAGE.parent / "service" / "service.py")
    found = [f"{p.name}:{node.lineno} {node.value!r}" for p in front
             for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
             if isinstance(node, ast.Constant) and node.value in names]
    assert found == []
