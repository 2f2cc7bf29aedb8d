"""Where a model came from: code version, package versions and the exact data files it saw."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from biomedserve.checksums import file_sha256
from biomedserve.data.registry import DatasetSpec

PACKAGES = ("biomedserve", "torch", "transformers", "tokenizers", "optimum", "optimum-onnx", "onnx",
            "onnxruntime", "onnxruntime-gpu", "seqeval")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit() -> dict[str, Any]:
    """The biomedserve source commit and whether the tree had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "biomedserve"], cwd=root,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def accelerator() -> str:
    """Where this process trains: the CUDA device's name, else ``"cpu"``. Recorded with every run,
    because a run's hours (and, through bf16 and kernels, its last digits) depend on it."""
    try:
        import torch
    except ImportError:
        return "cpu"
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def data_checksums(spec: DatasetSpec, data_dir: str | Path | None, splits: list[str]) -> dict[str, str]:
    return {split: "+".join(file_sha256(p) for p in spec.source_paths(split, data_dir)) for split in splits}


def provenance(base_model: str, resolved_base: str, spec: DatasetSpec, data_dir, splits: list[str]) -> dict[str, Any]:
    return {
        "base_model": base_model,
        "base_model_path": resolved_base,
        "data_sha256": data_checksums(spec, data_dir, splits),
        "packages": package_versions(),
        "git": git_commit(),
        "python": platform.python_version(),
        "machine": platform.platform(),
        "accelerator": accelerator(),
    }
