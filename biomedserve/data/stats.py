"""Per-split counts in the units MANIFEST.md (and the BLURB paper) use.

NER: sentences, tokens, mentions (one per ``B`` tag) and documents where the file marks them.
PICO: documents, sentences, tokens, non-O tokens and per-label token counts.
Everything else: instances and the label distribution (HoC: abstract-level positives per class).
"""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from biomedserve.data.registry import CORPORA, DATASETS, DatasetSpec, get_dataset
from biomedserve.errors import DataNotFoundError


def _tagged_stats(records: list, count_mentions: bool) -> dict[str, Any]:
    tags = Counter(tag for record in records for tag in record.tags)
    stats: dict[str, Any] = {"sentences": len(records), "tokens": sum(tags.values())}
    docs = {record.doc_index for record in records if record.doc_index is not None}
    if docs:
        stats["documents"] = len(docs)
    if count_mentions:
        stats["mentions"] = tags.get("B", 0)
    else:
        stats["non_o_tokens"] = stats["tokens"] - tags.get("O", 0)
        stats["labels"] = dict(sorted(tags.items()))
    return stats


def split_stats(spec: DatasetSpec, split: str, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Counts for one split of one dataset."""
    records = spec.load(split, data_dir)
    if spec.task in ("ner", "pico"):
        return _tagged_stats(records, count_mentions=spec.task == "ner")
    if spec.task == "similarity":
        scores = [record.label for record in records]
        return {
            "instances": len(records),
            "score_mean": round(statistics.fmean(scores), 4),
            "score_min": min(scores),
            "score_max": max(scores),
        }
    if spec.task == "doc_classification":
        positives = Counter(label for doc in records for label in doc.labels)
        return {
            "instances": len(records),
            "sentences": sum(len(doc.sentences) for doc in records),
            "no_label": sum(1 for doc in records if not doc.labels),
            "labels": {label: positives.get(label, 0) for label in spec.labels},
        }
    labels = Counter(record.label for record in records)
    return {"instances": len(records), "labels": {label: labels.get(label, 0) for label in spec.labels}}


def all_stats(data_dir: str | Path | None = None, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """``{dataset: {split: counts}}`` for every BLURB set and every extra corpus staged here (or the
    ``names`` given, which must all be there)."""
    chosen = [*DATASETS, *(name for name in CORPORA if _staged(name, data_dir))] if names is None else names
    return {
        name: {split: split_stats(get_dataset(name), split, data_dir)
               for split in get_dataset(name).available_splits(data_dir)}
        for name in chosen
    }


def _staged(name: str, data_dir: str | Path | None) -> bool:
    """Whether an extra corpus's folder is there (they are optional beside BLURB)."""
    try:
        return CORPORA[name].root(data_dir).is_dir()
    except DataNotFoundError:
        return False
