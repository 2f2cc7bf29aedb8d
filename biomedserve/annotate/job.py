"""Chunks, manifest, resume and the final output: what makes a long run resumable and exactly-once.

Layout next to the output file ``OUT``::

    OUT.parts/manifest.json            what the job is (inputs, models, format, group size); written once
    OUT.parts/chunk-000007.jsonl       the chunk's records (canonical JSON lines)
    OUT.parts/chunk-000007.errors.jsonl  its malformed records
    OUT.parts/chunk-000007.done.json   the commit marker: the input range it covers, counts, ids
    OUT.parts/complete.json            every input was read
    OUT.parts/finished.json            OUT was written (the run's summary)
    OUT, OUT.errors.jsonl              the results, written at the end

Every file is written to a temporary name, flushed, fsynced and moved into place with
``os.replace``, and a chunk counts only once its ``done`` marker exists — written last. A run
killed at any instant leaves committed chunks and, at worst, a stray temporary or an uncommitted
chunk that the next run simply writes again. A rerun of the same command reads the markers,
starts at the last one's end position (file, item number: a group boundary, so the models see the
same groups) and finally renders ``OUT`` from the chunks in order: the same bytes as a run that was
never interrupted. A rerun with other models, format, inputs or group size is refused (it would
mix results); ``--overwrite`` starts afresh.

Inputs are known by content, not by name: the manifest holds each file's path, size and the
sha256 of its bytes (as stored: a ``.gz`` is hashed compressed), and every run — a resume, or
one that finds the job finished — hashes the files again and refuses one whose bytes changed,
naming it. The whole file is hashed, not the part a killed run had read: records after the
resume point come from the same file as the ones before it, and a finished ``OUT`` is never
reported complete over inputs it was not made from. Hashing reads each file once more, without
decompressing or parsing it: cheap next to the models.

``DeleteCitation`` is applied when ``OUT`` is rendered: a document is left out if its PMID is
deleted later in the input (PubMed update files delete citations of earlier files).
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from biomedserve.annotate.annotator import ModelInfo, ModelSpec
from biomedserve.annotate.documents import Annotated
from biomedserve.annotate.readers import BackgroundEstimate, Source
from biomedserve.annotate.writers import open_writer
from biomedserve.atomic import atomic_write, fsync_dir
from biomedserve.checksums import file_sha256
from biomedserve.errors import BiomedserveError

MANIFEST_VERSION = 2  # 2: inputs carry their sha256 (a version 1 manifest is resumed on path and size)


class ResumeError(BiomedserveError):
    """The output's manifest belongs to a different command, or the output exists without one."""


class Engine(Protocol):
    """Runs the models over the inputs from a position, yielding annotated groups in input order."""

    name: str

    def run(self, sources: Sequence[Source], specs: Sequence[ModelSpec], group_size: int,
            start: tuple[int, int]) -> Iterator[Annotated]: ...


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


@dataclass
class Summary:
    """What a run did; also stored in ``finished.json``."""

    out: str
    errors_file: str
    format: str
    documents: int = 0  # records in OUT
    deleted: int = 0  # records left out by DeleteCitation
    errors: int = 0
    entities: dict[str, int] = field(default_factory=dict)  # per entity type
    entities_by_model: dict[str, dict[str, int]] = field(default_factory=dict)
    chunks: int = 0
    resumed_from_chunk: int = 0  # chunks already committed when this run started
    documents_this_run: int = 0
    seconds: float = 0.0
    already_complete: bool = False
    engine: str = "local"

    @property
    def docs_per_s(self) -> float:
        return self.documents_this_run / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "docs_per_s": round(self.docs_per_s, 2)}


def hash_files(paths: Sequence[str | Path], workers: int = 4) -> list[str]:
    """:func:`file_sha256` of each path, in order; a few files at a time (hashlib releases the GIL)."""
    if len(paths) <= 1:
        return [file_sha256(path) for path in paths]
    with ThreadPoolExecutor(max_workers=min(workers, len(paths)), thread_name_prefix="annotate-hash") as pool:
        return list(pool.map(file_sha256, paths))


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


class Layout:
    """Where a job's files live, derived from the output path."""

    def __init__(self, out: Path, errors: Path | None = None):
        self.out = Path(out)
        self.parts = self.out.with_name(self.out.name + ".parts")
        self.errors = Path(errors) if errors else self.out.with_name(self.out.name + ".errors.jsonl")
        self.manifest = self.parts / "manifest.json"
        self.complete = self.parts / "complete.json"
        self.finished = self.parts / "finished.json"
        self.lock = self.parts / ".lock"

    def chunk(self, k: int) -> Path:
        return self.parts / f"chunk-{k:06d}.jsonl"

    def chunk_errors(self, k: int) -> Path:
        return self.parts / f"chunk-{k:06d}.errors.jsonl"

    def marker(self, k: int) -> Path:
        return self.parts / f"chunk-{k:06d}.done.json"

    def markers(self) -> list[dict[str, Any]]:
        """Committed chunks 0, 1, 2, ... up to the first gap (a later one without its predecessors is void).

        Each marker's per-document index (``docs``) is dropped here and read again, one chunk at a
        time, when OUT is rendered: for PubMed's 36M abstracts it would be gigabytes in memory.
        """
        found = []
        while (path := self.marker(len(found))).is_file():
            marker = json.loads(path.read_text(encoding="utf-8"))
            marker.pop("docs", None)
            found.append(marker)
        return found

    def marker_docs(self, k: int) -> list[list]:
        """Chunk ``k``'s documents in order: ``[id, file index, item number]``."""
        return json.loads(self.marker(k).read_text(encoding="utf-8"))["docs"]


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


def count_entities(group: Annotated) -> Counter:
    """The group's entities per ``(model, type)``, read from its records' canonical lines."""
    found: Counter = Counter()
    for entry in group.entries:
        if "line" in entry:
            found.update((e["model"], e["type"]) for e in json.loads(entry["line"])["entities"])
    return found


# ---------------------------------------------------------------- the job
class Job:
    """One output file's job: prepare (resume or start), run an engine, commit chunks, render OUT."""

    def __init__(self, config: JobConfig, out: str | Path, errors: str | Path | None = None,
                 overwrite: bool = False, progress: bool = True, log: Callable[[str], None] | None = None):
        self.config = config
        self.layout = Layout(Path(out), Path(errors) if errors else None)
        self.overwrite = overwrite
        self.progress = progress
        self.log = log or (lambda message: None)
        self._lock_handle = None

    # -------------------------------------------------------------- setup
    def _acquire_lock(self) -> None:
        self.layout.parts.mkdir(parents=True, exist_ok=True)
        self._lock_handle = open(self.layout.lock, "w")
        try:
            fcntl.flock(self._lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ResumeError(f"another annotate run is writing {self.layout.out} (lock {self.layout.lock})") from None

    def _release_lock(self) -> None:
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def _start_afresh(self) -> None:
        for path in (self.layout.out, self.layout.errors):
            if path.exists():
                path.unlink()
        for child in self.layout.parts.iterdir():
            if child.name != self.layout.lock.name:
                shutil.rmtree(child) if child.is_dir() else child.unlink()

    def _prepare(self) -> dict[str, Any]:
        """Start afresh, or check the manifest matches this command; return the manifest."""
        identity = self.config.identity()
        layout = self.layout
        if self.overwrite:
            self._start_afresh()
        if layout.manifest.is_file():
            manifest = json.loads(layout.manifest.read_text(encoding="utf-8"))
            differences = _differences(manifest["identity"], identity)
            if differences:
                raise ResumeError(
                    f"{layout.out} is a job begun with a different command ({'; '.join(differences)}). "
                    f"Re-run the original command to resume it, or pass --overwrite to start afresh "
                    f"(or choose another --out).")
            changed = _changed_inputs(manifest["identity"]["inputs"], identity["inputs"])
            if changed:
                raise ResumeError(
                    f"{layout.out} is a job begun on other contents of its inputs; changed since: "
                    f"{'; '.join(changed)}. Its records came from the old contents: restore the file(s) to "
                    f"resume, or pass --overwrite to start afresh (or choose another --out).")
            return manifest
        stray = [p for p in (layout.out, layout.errors) if p.exists()]
        if stray:
            raise ResumeError(f"{stray[0]} exists and has no manifest in {layout.parts}; "
                              "pass --overwrite to replace it")
        for child in layout.parts.iterdir():  # leftovers of a run killed before its manifest was written
            if child.name != layout.lock.name:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        from biomedserve import __version__

        manifest = {"version": MANIFEST_VERSION, "identity": identity, "biomedserve": __version__,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "chunk_size": self.config.chunk_size}
        atomic_write(layout.manifest, _json_bytes(manifest))
        return manifest

    # -------------------------------------------------------------- chunks
    def _commit(self, k: int, groups: list[Annotated], found: Counter) -> dict[str, Any]:
        """Write chunk ``k``'s records and errors, then its marker (the commit point).

        ``found`` counts the groups' entities per ``(model, type)`` (:func:`count_entities`,
        tallied as the groups arrived, for the progress bar).
        """
        lines: list[str] = []
        docs: list[list] = []
        errors: list[str] = []
        deleted: list[list] = []
        types: Counter = Counter()
        by_model: dict[str, Counter] = {}
        for (model, type_), n in found.items():
            types[type_] += n
            by_model.setdefault(model, Counter())[type_] += n
        for group in groups:
            for offset, entry in enumerate(group.entries):
                number = group.start + offset
                if "line" in entry:
                    lines.append(entry["line"])
                    docs.append([entry["id"], group.file_index, number])
                elif "error" in entry:
                    errors.append(json.dumps(entry["error"], ensure_ascii=False))
                else:
                    deleted += [[pmid, group.file_index, number] for pmid in entry["delete"]]
        layout = self.layout
        atomic_write(layout.chunk(k), "".join(line + "\n" for line in lines).encode("utf-8"))
        atomic_write(layout.chunk_errors(k), "".join(line + "\n" for line in errors).encode("utf-8"))
        marker = {
            "chunk": k,
            "start": [groups[0].file_index, groups[0].start],
            "next": [groups[-1].file_index, groups[-1].next],
            "documents": len(docs), "errors": len(errors),
            "entities": dict(sorted(types.items())),
            "entities_by_model": {m: dict(sorted(c.items())) for m, c in sorted(by_model.items())},
            "docs": docs, "deleted": deleted,
        }
        atomic_write(layout.marker(k), (json.dumps(marker, ensure_ascii=False) + "\n").encode("utf-8"))
        marker.pop("docs")
        return marker

    def _run_engine(self, engine: Engine, markers: list[dict[str, Any]]) -> int:
        """Annotate from the last committed position; commit every ``chunk_size`` items. Returns documents done."""
        from tqdm.auto import tqdm

        start = tuple(markers[-1]["next"]) if markers else (0, 0)
        done_docs = sum(m["documents"] for m in markers)
        estimate = BackgroundEstimate(self.config.sources) if self.progress else None
        bar = tqdm(total=None, initial=done_docs, unit="doc", desc="annotating", disable=not self.progress,
                   dynamic_ncols=True, smoothing=0.05)
        k = len(markers)
        pending: list[Annotated] = []
        pending_items = 0
        pending_found: Counter = Counter()  # (model, type) → entities in the pending groups
        entities = sum(sum(m["entities"].values()) for m in markers)
        errors = sum(m["errors"] for m in markers)
        shown_errors = 0
        position = start
        this_run = 0
        groups = engine.run(self.config.sources, self.config.specs, self.config.group_size, start)
        try:
            for group in groups:
                expected = position[1] if group.file_index == position[0] else 0
                if group.file_index < position[0] or group.start != expected:  # a gap or a repeat: a bug
                    raise RuntimeError(f"engine {engine.name} returned group ({group.file_index}, {group.start}) "
                                       f"out of order after position {position}")
                position = (group.file_index, group.next)
                pending.append(group)
                pending_items += len(group.entries)
                found = count_entities(group)
                pending_found.update(found)
                entities += sum(found.values())
                n_docs = 0
                for entry in group.entries:
                    if "line" in entry:
                        n_docs += 1
                    elif "error" in entry:
                        errors += 1
                        if shown_errors < 5:
                            e = entry["error"]
                            bar.write(f"skipped: {e['source']} {e['location']}: {e['reason']}")
                        elif shown_errors == 5:
                            bar.write(f"skipped more records; every one is listed in {self.layout.errors}")
                        shown_errors += 1
                if pending_items >= self.config.chunk_size:
                    self._commit(k, pending, pending_found)
                    k, pending, pending_items, pending_found = k + 1, [], 0, Counter()
                this_run += n_docs
                bar.update(n_docs)
                if estimate is not None and estimate.value is not None and bar.total is None:
                    bar.total = estimate.value
                if bar.total is not None and bar.n > bar.total:  # the estimate was short (e.g. text files)
                    bar.total = bar.n
                bar.set_postfix(entities=entities, errors=errors, refresh=False)
            if pending:
                self._commit(k, pending, pending_found)
                k += 1
            atomic_write(self.layout.complete, _json_bytes({"chunks": k}))
        finally:
            bar.close()
            if hasattr(groups, "close"):
                groups.close()  # stop the engine's reader thread / Ray execution on a crash
        return this_run

    # -------------------------------------------------------------- the output
    def _render(self, markers: list[dict[str, Any]], summary: Summary) -> None:
        """Write OUT and the errors file from the committed chunks, in order, deletions applied."""
        layout = self.layout
        deleted_at: dict[str, tuple[int, int]] = {}
        for marker in markers:
            for pmid, file_index, number in marker["deleted"]:
                deleted_at[pmid] = max(deleted_at.get(pmid, (-1, -1)), (file_index, number))
        types: Counter = Counter()
        by_model: dict[str, Counter] = {}
        for marker in markers:
            types.update(marker["entities"])
            for model, counts in marker["entities_by_model"].items():
                by_model.setdefault(model, Counter()).update(counts)
        partial = layout.out.with_name(layout.out.name + ".partial")
        fmt = self.config.format
        info = {"models": [m.to_dict() for m in self.config.models]}
        with open(partial, "wb") as raw:
            handle = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) \
                if layout.out.name.lower().endswith(".gz") else raw
            writer = open_writer(fmt, handle, info)
            for marker in markers:
                with open(layout.chunk(marker["chunk"]), encoding="utf-8") as chunk:
                    for (doc_id, file_index, number), line in zip(layout.marker_docs(marker["chunk"]), chunk):
                        line = line.rstrip("\n")
                        if deleted_at.get(doc_id, (-1, -1)) > (file_index, number):
                            summary.deleted += 1
                            for entity in json.loads(line)["entities"]:
                                types[entity["type"]] -= 1
                                by_model[entity["model"]][entity["type"]] -= 1
                            continue
                        writer.write(json.loads(line) if fmt != "jsonl" else None, line)
                        summary.documents += 1
            writer.close()
            if handle is not raw:
                handle.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, layout.out)
        errors_partial = layout.errors.with_name(layout.errors.name + ".partial")
        with open(errors_partial, "wb") as handle:
            for marker in markers:
                with open(layout.chunk_errors(marker["chunk"]), "rb") as chunk:
                    shutil.copyfileobj(chunk, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(errors_partial, layout.errors)
        fsync_dir(layout.out.parent)
        summary.errors = sum(m["errors"] for m in markers)
        summary.entities = {t: n for t, n in sorted(types.items()) if n}
        summary.entities_by_model = {m: {t: n for t, n in sorted(c.items()) if n} for m, c in sorted(by_model.items())}
        summary.chunks = len(markers)

    def run(self, engine: Engine) -> Summary:
        """Resume or start, annotate, render. Safe to call again after any crash."""
        layout = self.layout
        summary = Summary(out=str(layout.out), errors_file=str(layout.errors), format=self.config.format,
                          engine=engine.name)
        self._acquire_lock()
        try:
            self._prepare()
            if layout.finished.is_file() and not layout.out.is_file():
                raise ResumeError(f"{layout.out} was removed after the job finished; pass --overwrite to redo it")
            if layout.finished.is_file():
                stored = json.loads(layout.finished.read_text(encoding="utf-8"))
                self.log(f"{layout.out} is already complete; nothing to do (--overwrite redoes it)")
                for key in ("documents", "deleted", "errors", "entities", "entities_by_model", "chunks"):
                    setattr(summary, key, stored[key])
                summary.already_complete = True
                return summary
            markers = layout.markers()
            summary.resumed_from_chunk = len(markers)
            if markers and not layout.complete.is_file():
                done = sum(m["documents"] for m in markers)
                self.log(f"resuming {layout.out}: {len(markers)} chunks ({done} documents) already done")
            started = time.perf_counter()
            if not layout.complete.is_file():
                summary.documents_this_run = self._run_engine(engine, markers)
            markers = layout.markers()
            self._render(markers, summary)
            summary.seconds = round(time.perf_counter() - started, 3)
            atomic_write(layout.finished, _json_bytes(summary.to_dict()))
            for marker in markers:  # OUT holds it all now; the chunk copies only cost disk
                for path in (layout.chunk(marker["chunk"]), layout.chunk_errors(marker["chunk"])):
                    path.unlink(missing_ok=True)
            return summary
        finally:
            self._release_lock()
