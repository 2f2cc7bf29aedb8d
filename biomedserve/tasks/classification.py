"""Sequence-level tasks: relation extraction, QA, sentence similarity and HoC document classification.

All four put a head on the ``[CLS]`` vector of one text or a text pair; they differ in the label
space (single-label, regression, multi-label) and the BLURB metric:

* relation extraction (ChemProt, DDI, GAD): micro F1 over the positive classes — the ``negative``
  class (ChemProt ``false``, DDI ``DDI-false``, GAD ``0``) is predicted but not scored, which for
  GAD is the binary F1 of class ``1``;
* QA (PubMedQA, BioASQ): accuracy over question + context pairs;
* similarity (BIOSSES): Pearson correlation of a regression head with the gold score;
* document classification (HoC): a multi-label head per sentence; an abstract's predicted labels
  are the union of its sentences' (max probability ≥ 0.5), compared with the union of the gold
  sentence labels; micro F1 over the 10 hallmarks at abstract level (BLURB's evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import accuracy_score, f1_score

from biomedserve.data.records import DocumentInstance, PairInstance

HALLMARKS = (
    "activating_invasion_and_metastasis", "avoiding_immune_destruction", "cellular_energetics",
    "enabling_replicative_immortality", "evading_growth_suppressors", "genomic_instability_and_mutation",
    "inducing_angiogenesis", "resisting_cell_death", "sustaining_proliferative_signaling",
    "tumor_promoting_inflammation",
)


def positive_micro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str], negative: str) -> float:
    """Micro F1 (points) over every class but ``negative``."""
    positives = [label for label in labels if label != negative]
    return 100 * f1_score(gold, pred, labels=positives, average="micro", zero_division=0)


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    return 100 * accuracy_score(gold, pred)


def pearson(gold: Sequence[float], pred: Sequence[float]) -> float:
    """Pearson r in points; a constant prediction (a collapsed run) scores 0, not NaN."""
    if np.std(pred) == 0 or np.std(gold) == 0:
        return 0.0
    return 100 * float(pearsonr(gold, pred)[0])


def multilabel_micro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    """Micro F1 (points) over binary indicator matrices (rows: documents, columns: classes)."""
    return 100 * f1_score(gold, pred, average="micro", zero_division=0)


def documents_to_sentences(docs: Sequence[DocumentInstance]) -> list[tuple[str, frozenset[str]]]:
    return [(s, labs) for doc in docs for s, labs in zip(doc.sentences, doc.sentence_labels)]


def multi_hot(labels: frozenset[str], classes: Sequence[str]) -> list[float]:
    return [1.0 if c in labels else 0.0 for c in classes]


def predicted_labels(predictor, records: Sequence[PairInstance], progress: bool = False) -> list[str]:
    """The runtime's argmax label for each (text, pair) record, in order."""
    probs = predictor.predict_proba([(r.text_a, r.text_b) for r in records], progress=progress)
    return [predictor.meta.labels[i] for i in probs.argmax(axis=-1)]
