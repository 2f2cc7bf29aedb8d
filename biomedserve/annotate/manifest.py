"""A job's identity: what a resumed run must share with the one that began it, and the refusals.

The manifest (``OUT.parts/manifest.json``, written once when a job begins) records the format,
the models, the group size and every input. A rerun with other models, format, inputs or group
size is refused, naming what differs (it would mix results); ``--overwrite`` starts afresh.

Inputs are known by content, not by name: the manifest holds each file's path, size and the
sha256 of its bytes (as stored: a ``.gz`` is hashed compressed), and every run — a resume, or
one that finds the job finished — hashes the files again and refuses one whose bytes changed,
naming it. The whole file is hashed, not the part a killed run had read: records after the
resume point come from the same file as the ones before it, and a finished ``OUT`` is never
reported complete over inputs it was not made from. Hashing reads each file once more, without
decompressing or parsing it: cheap next to the models.

Kept apart from :mod:`biomedserve.annotate.job` because it only compares descriptions of a job;
it writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biomedserve.annotate.annotator import ModelInfo, ModelSpec
from biomedserve.checksums import file_sha256
from biomedserve.data.document_readers import Source
from biomedserve.errors import BiomedserveError

MANIFEST_VERSION = 2  # 2: inputs carry their sha256 (a version 1 manifest is resumed on path and size)


class ResumeError(BiomedserveError):
    """The output's manifest belongs to a different command, or the output exists without one."""


@dataclass
class JobConfig:
    """One annotate command. ``identity()`` is what a resumed run must share with the first one."""

    sources: list[Source]
    specs: list[ModelSpec]
    models: list[ModelInfo]
    format: str
    group_size: int = 64
    chunk_size: int = 2000

    def identity(self) -> dict[str, Any]:
        """Format, models, group size and every input's absolute path, size and sha256 (read now)."""
        paths = [Path(source.opens).resolve() for source in self.sources]
        digests = hash_files(paths)
        inputs = [{"path": str(path), "size": path.stat().st_size, "sha256": digest}
                  for path, digest in zip(paths, digests)]
        return {
            "format": self.format,
            "models": [{"name": m.name, "version": m.version, "task": m.task, "path": m.path} for m in self.models],
            "inputs": inputs,
            "group_size": self.group_size,
        }


def hash_files(paths: Sequence[str | Path], workers: int = 4) -> list[str]:
    """:func:`file_sha256` of each path, in order; a few files at a time (hashlib releases the GIL)."""
    if len(paths) <= 1:
        return [file_sha256(path) for path in paths]
    with ThreadPoolExecutor(max_workers=min(workers, len(paths)), thread_name_prefix="annotate-hash") as pool:
        return list(pool.map(file_sha256, paths))


def new_manifest(identity: dict[str, Any], chunk_size: int) -> dict[str, Any]:
    """The manifest a job begins with: its identity, this biomedserve's version, the time, the chunk size."""
    from biomedserve import __version__

    return {"version": MANIFEST_VERSION, "identity": identity, "biomedserve": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "chunk_size": chunk_size}


def check_same_job(manifest: dict[str, Any], identity: dict[str, Any], out: Path) -> None:
    """Raise :class:`ResumeError` unless this command (``identity``) may resume the job of ``manifest``.

    The command itself is compared first (format, models, input list, group size), then the
    inputs' contents; either message names what changed and how to go on.
    """
    differences = _differences(manifest["identity"], identity)
    if differences:
        raise ResumeError(
            f"{out} is a job begun with a different command ({'; '.join(differences)}). "
            f"Re-run the original command to resume it, or pass --overwrite to start afresh "
            f"(or choose another --out).")
    changed = _changed_inputs(manifest["identity"]["inputs"], identity["inputs"])
    if changed:
        raise ResumeError(
            f"{out} is a job begun on other contents of its inputs; changed since: "
            f"{'; '.join(changed)}. Its records came from the old contents: restore the file(s) to "
            f"resume, or pass --overwrite to start afresh (or choose another --out).")


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """How the command differs from the one that began the job: format, models, input list, group size."""
    out = []
    if old["format"] != new["format"]:
        out.append(f"format {old['format']} → {new['format']}")
    if old["models"] != new["models"]:
        describe = lambda ms: ", ".join(f"{m['name']} ({m['version']})" for m in ms)  # noqa: E731
        out.append(f"models [{describe(old['models'])}] → [{describe(new['models'])}]")
    old_paths, new_paths = [i["path"] for i in old["inputs"]], [i["path"] for i in new["inputs"]]
    if old_paths != new_paths:
        gone = [p for p in old_paths if p not in new_paths]
        added = [p for p in new_paths if p not in old_paths]
        parts = ([f"no longer given: {', '.join(gone)}"] if gone else []) + \
                ([f"added: {', '.join(added)}"] if added else [])
        out.append(f"inputs ({'; '.join(parts) or 'the same files in another order'})")
    if old["group_size"] != new["group_size"]:
        out.append(f"group size {old['group_size']} → {new['group_size']}")
    return out


def _changed_inputs(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    """Each input whose bytes differ from the job's first run, named (same input list assumed).

    Size is compared first (it names the change better); the sha256 settles the rest, including
    an edit that keeps the size. A manifest written before hashes were recorded has none to
    compare, and its inputs are checked on size alone.
    """
    changes = []
    for before, now in zip(old, new):
        if before["size"] != now["size"]:
            changes.append(f"{now['path']} (size {before['size']} → {now['size']} bytes)")
        elif before.get("sha256", now["sha256"]) != now["sha256"]:
            changes.append(f"{now['path']} (same size, sha256 {before['sha256'][:12]}… → {now['sha256'][:12]}…)")
    return changes
