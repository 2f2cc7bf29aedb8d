"""Tests of the benchmarks package (``python -m benchmarks.<name>``)."""

import importlib
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_benchmark(name: str):
    """The module ``benchmarks.<name>`` (``device.bundle`` for a subpackage's module)."""
    return importlib.import_module(f"benchmarks.{name}")
