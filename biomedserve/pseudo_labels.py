"""Self-training for multi-type NER: a teacher's confident tags for the types a corpus leaves unannotated.

A BC2GM sentence says nothing about its chemicals, so the multi-type loss masks them
(:mod:`biomedserve.tasks.multi_ner`). The chemical head then learns from BC5CDR's sentences only, and
meets the gene-and-pathway text of JNLPBA or BC2GM (and of PubMed at large) only at prediction time.
Self-training fills those unknown layers with a trained multi-type model's own tags, word by word,
where the teacher is sure (probability of its tag ≥ ``min_score``) and leaves the rest masked, so the
student sees every type in every corpus's text. The corpus's own annotation is never replaced.

Training sentences only: dev keeps its masks (the dev metric tells a row's corpus by its annotated types).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from biomedserve.data.records import UNSURE, TypedLayersSentence
from biomedserve.errors import BiomedserveError


def teacher_layers(tags: Sequence[str], scores: Sequence[float], min_score: float) -> list[str]:
    """A teacher's IOB2 tags of one type (``B-X``/``I-X``/``O``) as an untyped layer, ``?`` where its
    probability is below ``min_score``. An ``I`` that follows ``O`` (or opens the sentence) starts an
    entity, as the runtime decodes it, so it is taught as ``B``."""
    layer = []
    for tag, score in zip(tags, scores):
        tag = UNSURE if score < min_score else tag.partition("-")[0]
        if tag == "I" and (not layer or layer[-1] == "O"):
            tag = "B"
        layer.append(tag)
    return layer


def add_pseudo_layers(records: Sequence[TypedLayersSentence], teacher: str | Path, min_score: float,
                      progress: bool = True) -> tuple[list[TypedLayersSentence], dict[str, dict[str, int]]]:
    """``records`` with ``pseudo`` layers from ``teacher`` (a multi-type model directory, run in fp32)
    for every teacher type that a record's corpus does not annotate, and per type the counts of words
    labelled and masked and of entities taught. A type the teacher does not return stays unknown.
    """
    from biomedserve.runtime import Predictor

    teacher = Path(teacher)
    if not (teacher / "biomedserve.json").is_file():
        raise BiomedserveError(f"pseudo_label_teacher: {teacher} is not a trained model directory "
                               "(no biomedserve.json); train the multi-type model first")
    predictor = Predictor.from_dir(teacher, variant="fp32")
    if predictor.meta.task != "multi_ner":
        raise BiomedserveError(f"pseudo_label_teacher: {teacher} is a {predictor.meta.task} model; self-training "
                               "needs a multi-type NER model (NER-multitype)")
    layers = predictor.predict_words_by_type([r.tokens for r in records], progress=progress)
    stats: dict[str, dict[str, int]] = {}
    out = []
    for record, by_type in zip(records, layers):
        pseudo = {}
        for entity_type, tagged in by_type.items():
            if entity_type in record.layers:
                continue
            layer = teacher_layers(tagged.tags, tagged.scores, min_score)
            pseudo[entity_type] = layer
            counts = stats.setdefault(entity_type, {"sentences": 0, "words_labelled": 0, "words_masked": 0,
                                                    "entities": 0})
            counts["sentences"] += 1
            counts["words_masked"] += layer.count(UNSURE)
            counts["words_labelled"] += len(layer) - layer.count(UNSURE)
            counts["entities"] += layer.count("B")
        out.append(replace(record, pseudo=pseudo))
    return out, stats
