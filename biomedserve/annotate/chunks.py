"""A job's files next to ``OUT`` and what a committed chunk holds: names, markers, records, tallies.

Layout next to the output file ``OUT``::

    OUT.parts/manifest.json            what the job is (inputs, models, format, group size); written once
    OUT.parts/chunk-000007.jsonl       the chunk's records (canonical JSON lines)
    OUT.parts/chunk-000007.errors.jsonl  its malformed records
    OUT.parts/chunk-000007.done.json   the commit marker: the input range it covers, counts, ids
    OUT.parts/complete.json            every input was read
    OUT.parts/finished.json            OUT was written (the run's summary)
    OUT, OUT.errors.jsonl              the results, written at the end

A chunk counts only once its ``done`` marker exists — written last, after its records and
errors. The marker says which input range the chunk covers (``start`` and ``next``: file index,
item number), its counts, each record's id and position (``docs``) and the ``DeleteCitation``
entries it read (``deleted``), so a resumed run knows where to go on and the final render knows
which records a later deletion leaves out.

This module only names the files, packs a chunk's contents and reads committed chunks back;
:mod:`biomedserve.annotate.job` decides when each file is written (atomically) and in what order.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biomedserve.data.documents import Annotated


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

    def clear_parts(self) -> None:
        """Remove everything in ``OUT.parts`` but the lock (held by this run)."""
        for child in self.parts.iterdir():
            if child.name != self.lock.name:
                shutil.rmtree(child) if child.is_dir() else child.unlink()


def count_entities(group: Annotated) -> Counter:
    """The group's entities per ``(model, type)``, read from its records' canonical lines."""
    found: Counter = Counter()
    for entry in group.entries:
        if "line" in entry:
            found.update((e["model"], e["type"]) for e in json.loads(entry["line"])["entities"])
    return found


@dataclass
class Chunk:
    """Chunk ``k``'s three files' contents: records, errors and the commit marker (``docs`` included)."""

    records: bytes
    errors: bytes
    marker: dict[str, Any]


def pack_chunk(k: int, groups: Sequence[Annotated], found: Counter) -> Chunk:
    """Chunk ``k`` made of ``groups`` (consecutive, in input order, at least one).

    ``found`` counts the groups' entities per ``(model, type)`` (:func:`count_entities`, tallied
    as the groups arrived, for the progress bar).
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
    marker = {
        "chunk": k,
        "start": [groups[0].file_index, groups[0].start],
        "next": [groups[-1].file_index, groups[-1].next],
        "documents": len(docs), "errors": len(errors),
        "entities": dict(sorted(types.items())),
        "entities_by_model": {m: dict(sorted(c.items())) for m, c in sorted(by_model.items())},
        "docs": docs, "deleted": deleted,
    }
    return Chunk(records="".join(line + "\n" for line in lines).encode("utf-8"),
                 errors="".join(line + "\n" for line in errors).encode("utf-8"), marker=marker)


def deletion_points(markers: Sequence[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Each deleted PMID → the last input position (file index, item number) that deletes it.

    A record is left out of OUT if a deletion of its PMID comes after it in the input.
    """
    deleted_at: dict[str, tuple[int, int]] = {}
    for marker in markers:
        for pmid, file_index, number in marker["deleted"]:
            deleted_at[pmid] = max(deleted_at.get(pmid, (-1, -1)), (file_index, number))
    return deleted_at


def entity_totals(markers: Sequence[dict[str, Any]]) -> tuple[Counter, dict[str, Counter]]:
    """The committed chunks' entities per type, and per model and type (deletions not yet applied)."""
    types: Counter = Counter()
    by_model: dict[str, Counter] = {}
    for marker in markers:
        types.update(marker["entities"])
        for model, counts in marker["entities_by_model"].items():
            by_model.setdefault(model, Counter()).update(counts)
    return types, by_model


def committed_records(layout: Layout, markers: Sequence[dict[str, Any]]) -> Iterator[tuple[str, int, int, str]]:
    """Every committed record in order: its id, file index, item number and canonical JSON line (no newline).

    Reads one chunk (and its marker's ``docs``) at a time.
    """
    for marker in markers:
        with open(layout.chunk(marker["chunk"]), encoding="utf-8") as chunk:
            for (doc_id, file_index, number), line in zip(layout.marker_docs(marker["chunk"]), chunk):
                yield doc_id, file_index, number, line.rstrip("\n")
