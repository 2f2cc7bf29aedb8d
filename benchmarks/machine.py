"""Describe the machine a benchmark ran on, so every number in results/ can be put in context."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import psutil

from biomedserve.hardware import speed_flags
from biomedserve.training.provenance import git_commit, package_versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> list[str]:
    """The instruction-set extensions that decide bf16 and int8 speed (biomedserve.hardware)."""
    return speed_flags()


def gpu_name() -> str | None:
    """The CUDA device's name, or None (no GPU, or no CUDA-enabled torch)."""
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001 - a broken driver is "no GPU" for a report
        return None


def describe() -> dict:
    return {
        "gpu": gpu_name(),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "git": git_commit(),
    }


def report_context(committed: Path, rebuilt: bool) -> tuple[str, dict]:
    """``(when, machine)`` for a report about to be written over ``committed``.

    A report says when and where its figures were measured. One that measured something now gets
    the time and this host; one only rebuilt from stored results (``--report-only`` with nothing new)
    keeps those of the report it rebuilds, so re-rendering on another machine or a fresh clone writes
    the same report rather than claiming this host measured it.
    """
    from datetime import datetime, timezone

    if rebuilt and committed.is_file():
        try:
            previous = json.loads(committed.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}
        if previous.get("when") and previous.get("machine"):
            return previous["when"], previous["machine"]
    return datetime.now(timezone.utc).isoformat(timespec="seconds"), describe()
