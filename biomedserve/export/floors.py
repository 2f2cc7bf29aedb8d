"""The trivial floor of a model's task, and whether the model sits on it (*collapsed*).

A fine-tuning run can collapse to one answer: PubMedQA's majority answer "yes" scores 55.2 accuracy,
and a model that always says "yes" looks trained by its score alone. The card therefore keeps, beside
the model's dev and test scores, what the training set's majority answer scores on the same splits with
the same metric (:class:`MajorityAnswer` through the task's own ``evaluate``), and ``collapsed: true``
when the model is within :data:`MARGIN` points of that floor on dev, or gives one class for at least
:data:`ONE_CLASS_SHARE` of dev. The front-ends (``serve``, ``predict``, the spaCy component,
``annotate``) refuse a collapsed model unless told ``--allow-collapsed``.

The majority answer per output kind: the most frequent training label (relations, QA); each hallmark
as most training abstracts have it, i.e. none (HoC); the training mean (similarity, Pearson 0); no
entity (NER, F1 0).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biomedserve.data.registry import get_dataset
from biomedserve.modeldir.card import ModelMeta, read_meta, write_meta
from biomedserve.runtime.results import TaggedWords
from biomedserve.tasks import get_task

MARGIN = 1.0  # points above the floor still counted as on it
ONE_CLASS_SHARE = 0.95


class MajorityAnswer:
    """A stand-in predictor that gives the training set's majority answer to every input, with the
    methods the tasks' ``evaluate`` functions call."""

    def __init__(self, meta: ModelMeta, train_records: Sequence[Any]):
        self.meta = meta
        self.name = "majority answer"
        self.head_types = list(meta.entity_types or [])
        labels = [r.label for r in train_records if hasattr(r, "label")]
        self.label = Counter(labels).most_common(1)[0][0] if labels else None
        docs = [r for r in train_records if hasattr(r, "sentence_labels")]
        self.doc_probs = np.array([float(sum(c in d.labels for d in docs) * 2 > len(docs)) for c in meta.labels]) \
            if docs else None

    def describe(self) -> str:
        if self.doc_probs is not None:
            chosen = [c for c, p in zip(self.meta.labels, self.doc_probs) if p]
            return f"every abstract labelled {chosen}" if chosen else "no label for any abstract"
        if self.meta.task == "similarity":
            return "the training mean for every pair"
        if self.label is not None:
            return f"always {self.label!r}"
        return "no entity"

    # label tasks (relations, QA)
    def predict_proba(self, inputs: Sequence[Any], progress: Any = False) -> np.ndarray:
        out = np.zeros((len(inputs), len(self.meta.labels)))
        out[:, self.meta.labels.index(str(self.label))] = 1.0
        return out

    # document classification
    def predict_documents(self, documents: Sequence[Any], progress: Any = False) -> np.ndarray:
        return np.tile(self.doc_probs, (len(documents), 1))

    # similarity (a constant: Pearson 0)
    def predict_raw(self, inputs: Sequence[Any], progress: Any = False) -> np.ndarray:
        return np.full((len(inputs), 1), float(self.label or 0.0))

    # NER
    def predict_words(self, sequences: Sequence[Sequence[str]], progress: Any = False) -> list[TaggedWords]:
        return [TaggedWords(["O"] * len(s), [1.0] * len(s)) for s in sequences]

    def predict_words_by_type(self, sequences: Sequence[Sequence[str]], progress: Any = False) -> list[dict]:
        return [{t: TaggedWords(["O"] * len(s), [1.0] * len(s)) for t in self.head_types} for s in sequences]


def one_class_share(predictor, records: Sequence[Any]) -> float | None:
    """The share of ``records`` given the model's most frequent class (label tasks; None otherwise)."""
    if not records or not hasattr(records[0], "label") or not hasattr(predictor, "predict_proba"):
        return None
    if get_task(predictor.meta.task).metric == "pearson":
        return None
    from biomedserve.tasks.classification import predicted_labels

    counts = Counter(predicted_labels(predictor, records))
    return counts.most_common(1)[0][1] / len(records)


def assess(model_dir: str | Path, predictor, splits: Sequence[str], data_dir: str | Path | None = None,
           limit: int | None = None) -> ModelMeta:
    """Write the floor of each scored split, and the ``collapsed`` verdict, into the card; returns it."""
    from biomedserve.modeldir.metric_keys import metric_key

    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    spec, task = get_dataset(meta.dataset), get_task(meta.task)
    train = spec.load("train", data_dir) if "train" in spec.available_splits(data_dir) else []
    trivial = MajorityAnswer(meta, train)
    floor: dict[str, Any] = {"answer": trivial.describe(), "metric": task.metric}
    share = None
    for split in splits:
        records = spec.load(split, data_dir)[:limit] if limit else spec.load(split, data_dir)
        try:
            floor[split] = round(float(task.evaluate(trivial, records, spec)[task.metric]), 4)
        except (AttributeError, TypeError, ValueError) as exc:  # a plug-in task whose evaluate needs more
            floor = {"answer": f"not computed for task {meta.task!r}: {exc}", "metric": task.metric}
            break
        if split == "dev":
            share = one_class_share(predictor, records)
    dev = meta.metrics.get(metric_key("dev", "onnx", limit)) or meta.metrics.get(metric_key("dev", "torch", limit))
    reasons = []
    if dev is not None and "dev" in floor and dev[task.metric] <= floor["dev"] + MARGIN:
        reasons.append(f"dev {task.metric} {dev[task.metric]:.2f} is within {MARGIN} of the floor {floor['dev']:.2f} "
                       f"({trivial.describe()})")
    if share is not None and share >= ONE_CLASS_SHARE:
        reasons.append(f"one class for {100 * share:.1f}% of dev")
    floor["dev_one_class_share"] = None if share is None else round(share, 4)
    meta.floor = floor
    meta.collapsed = bool(reasons)
    meta.collapse_reason = "; ".join(reasons)
    write_meta(model_dir, meta)
    return meta
