"""Cross-corpus evaluation: NER sets from corpora none of the training sets was drawn from, and the scorer.

These sets are for measuring only (``../shared/crosscorpus/MANIFEST.md``): dev to choose on, test to report.
They live with the benchmarks, not in the product, so nothing that trains (``biomedserve.data.registry``'s
``get_dataset``, a recipe's ``dataset``) can reach them. :func:`score_on_set` scores any NER predictor on one
set's types, which is how the studies compare a multi-type model with per-set models.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

from biomedserve.data.location import resolve_dir
from biomedserve.data.records import TaggedSentence
from biomedserve.data.registry import BIO_TAGS, DatasetSpec
from biomedserve.data.tagged import read_tagged_tsv
from biomedserve.errors import BiomedserveError, DataNotFoundError
from biomedserve.tasks.ner import entity_scores, lenient_scores, type_tags

ENV_VAR = "BIOMEDSERVE_CROSSCORPUS"
CANDIDATES = (Path("data/crosscorpus"), Path("../shared/crosscorpus"))

CROSS_CORPUS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec("BioNLP13PC-chem", "ner", {"dev": "dev.tsv", "test": "test.tsv"},
                    partial(read_tagged_tsv, allowed_tags=BIO_TAGS), entity_type="CHEMICAL"),
        DatasetSpec("BioNLP13PC-ggp", "ner", {"dev": "dev.tsv", "test": "test.tsv"},
                    partial(read_tagged_tsv, allowed_tags=BIO_TAGS), entity_type="GENE"),
    ]
}


def resolve_crosscorpus_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The cross-corpus folder (``--crosscorpus-dir``, ``$BIOMEDSERVE_CROSSCORPUS``, ``./data/crosscorpus``,
    ``../shared/crosscorpus``), or an error naming every place looked at."""
    return resolve_dir(data_dir, ENV_VAR, CANDIDATES, "cross-corpus data")


def load_crosscorpus(name: str, split: str, data_dir: str | Path | None = None) -> list[TaggedSentence]:
    """A cross-corpus evaluation split (``dev`` or ``test``), read from :func:`resolve_crosscorpus_dir`."""
    spec = CROSS_CORPUS.get(name)
    if spec is None:
        raise DataNotFoundError(f"unknown cross-corpus set {name!r}; known: {', '.join(CROSS_CORPUS)}")
    return spec.load(split, resolve_crosscorpus_dir(data_dir))


def score_on_set(predictor, sentences: Sequence[TaggedSentence], spec: DatasetSpec, progress: bool = False,
                 model_types: Mapping[str, str] | None = None) -> dict[str, dict[str, float]]:
    """Score any NER predictor on one NER set (a BLURB set, BC5CDR or a cross-corpus set) on the
    types that set annotates.

    Entities of the model's other types are ignored (a BC2GM sentence's chemicals are not errors).
    ``model_types`` maps a set type to the model type whose entities count as it (a JNLPBA model's
    BIOENTITY scored as a cross-corpus set's GENE, or one head of a multi-guideline model: ``GENE@BioNLP``);
    by default each set type is the model's own.
    Returns ``{"strict": ..., "lenient": ...}``, each precision/recall/F1 in points
    (:func:`~biomedserve.tasks.ner.entity_scores`, :func:`~biomedserve.tasks.ner.lenient_scores`).
    A type the model does not return is an error naming it.
    """
    as_model = {t: (model_types or {}).get(t, t) for t in spec.entity_types}
    missing = [m for m in as_model.values() if m not in predictor.head_types]
    if missing:
        raise BiomedserveError(f"{predictor.name} returns no {missing[0]} entities, which {spec.name} is scored on; "
                               f"it returns: {', '.join(predictor.head_types)}")
    layers = predictor.predict_words_by_type([s.tokens for s in sentences], progress=progress)
    return score_layers(layers, sentences, spec, as_model)


def score_layers(layers: Sequence[Mapping], sentences: Sequence[TaggedSentence], spec: DatasetSpec,
                 as_model: Mapping[str, str]) -> dict[str, dict[str, float]]:
    """:func:`score_on_set` on predictions already made (``predict_words_by_type``'s layers), so one
    pass over a set can be scored for several heads."""
    gold, pred = [], []
    for sentence, by_type in zip(sentences, layers):
        typed = type_tags(sentence.tags, spec.entity_type)
        for entity_type, model_type in as_model.items():
            gold.append([tag if tag.partition("-")[2] == entity_type else "O" for tag in typed])
            pred.append([tag if tag == "O" else f"{tag.partition('-')[0]}-{entity_type}"
                         for tag in by_type[model_type].tags])
    return {"strict": entity_scores(gold, pred), "lenient": lenient_scores(gold, pred)}
