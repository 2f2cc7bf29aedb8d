"""One output file's job: resume or start, run an engine, commit chunks, render OUT — exactly once.

Every file is written to a temporary name, flushed, fsynced and moved into place with
``os.replace``, and a chunk counts only once its ``done`` marker exists — written last (the
files and markers: :mod:`biomedserve.annotate.chunks`). A run killed at any instant leaves
committed chunks and, at worst, a stray temporary or an uncommitted chunk that the next run simply
writes again. A rerun of the same command checks it is the same job (the manifest:
:mod:`biomedserve.annotate.manifest`, which refuses other models, format, inputs or group size),
reads the markers, starts at the last one's end position (file, item number: a group boundary, so
the models see the same groups) and finally renders ``OUT`` from the chunks in order: the same
bytes as a run that was never interrupted. ``--overwrite`` starts afresh.

``DeleteCitation`` is applied when ``OUT`` is rendered: a document is left out if its PMID is
deleted later in the input (PubMed update files delete citations of earlier files).

This module is the orchestration: it alone decides when each file is written, in what order.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from biomedserve.annotate.annotator import ModelSpec
from biomedserve.annotate.chunks import (
    Layout,
    committed_records,
    count_entities,
    deletion_points,
    entity_totals,
    pack_chunk,
)
from biomedserve.annotate.manifest import JobConfig, ResumeError, check_same_job, new_manifest
from biomedserve.annotate.writers import open_writer
from biomedserve.atomic import atomic_write, fsync_dir
from biomedserve.data.document_readers import BackgroundEstimate, Source
from biomedserve.data.documents import Annotated

__all__ = ["Engine", "Job", "JobConfig", "ResumeError", "Summary"]


class Engine(Protocol):
    """Runs the models over the inputs from a position, yielding annotated groups in input order."""

    name: str

    def run(self, sources: Sequence[Source], specs: Sequence[ModelSpec], group_size: int,
            start: tuple[int, int]) -> Iterator[Annotated]: ...


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


def _json_bytes(data: Any) -> bytes:
    """Indented UTF-8 JSON with a final newline: the job's small metadata files."""
    return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


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
        self.layout.clear_parts()

    def _prepare(self) -> dict[str, Any]:
        """Start afresh, or check the manifest matches this command; return the manifest."""
        identity = self.config.identity()
        layout = self.layout
        if self.overwrite:
            self._start_afresh()
        if layout.manifest.is_file():
            manifest = json.loads(layout.manifest.read_text(encoding="utf-8"))
            check_same_job(manifest, identity, layout.out)
            return manifest
        stray = [p for p in (layout.out, layout.errors) if p.exists()]
        if stray:
            raise ResumeError(f"{stray[0]} exists and has no manifest in {layout.parts}; "
                              "pass --overwrite to replace it")
        layout.clear_parts()  # leftovers of a run killed before its manifest was written
        manifest = new_manifest(identity, self.config.chunk_size)
        atomic_write(layout.manifest, _json_bytes(manifest))
        return manifest

    # -------------------------------------------------------------- chunks
    def _commit(self, k: int, groups: list[Annotated], found: Counter) -> dict[str, Any]:
        """Write chunk ``k``'s records and errors, then its marker (the commit point); return the marker.

        ``found`` counts the groups' entities per ``(model, type)`` (:func:`count_entities`,
        tallied as the groups arrived, for the progress bar). The returned marker has no ``docs``.
        """
        chunk = pack_chunk(k, groups, found)
        layout = self.layout
        atomic_write(layout.chunk(k), chunk.records)
        atomic_write(layout.chunk_errors(k), chunk.errors)
        atomic_write(layout.marker(k), (json.dumps(chunk.marker, ensure_ascii=False) + "\n").encode("utf-8"))
        chunk.marker.pop("docs")
        return chunk.marker

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
        deleted_at = deletion_points(markers)
        types, by_model = entity_totals(markers)
        partial = layout.out.with_name(layout.out.name + ".partial")
        fmt = self.config.format
        info = {"models": [m.to_dict() for m in self.config.models]}
        with open(partial, "wb") as raw:
            handle = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) \
                if layout.out.name.lower().endswith(".gz") else raw
            writer = open_writer(fmt, handle, info)
            for doc_id, file_index, number, line in committed_records(layout, markers):
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
