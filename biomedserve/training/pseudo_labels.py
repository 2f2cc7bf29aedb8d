"""Self-training for multi-type NER: a teacher's confident tags for the types a corpus leaves unannotated.

A BC2GM sentence says nothing about its chemicals, so the multi-type loss masks them
(:mod:`biomedserve.tasks.multi_ner`). The chemical head then learns from BC5CDR's sentences only, and
meets the gene-and-pathway text of JNLPBA or BC2GM (and of PubMed at large) only at prediction time.
Self-training fills those unknown layers with a trained multi-type model's own tags, word by word,
where the teacher is sure (probability of its tag ≥ ``min_score``) and leaves the rest masked, so the
student sees every type in every corpus's text. The corpus's own annotation is never replaced.

Training sentences only: dev keeps its masks (the dev metric tells a row's corpus by its annotated types).

**Unlabeled text** (``pseudo_label_texts``) goes further: sentences no corpus annotated at all (a BLURB
set's running text, or the user's own PubMed files) join the training set with every type unknown,
and the teacher labels them all, so the student sees text beyond the NER corpora (noisy-student
self-training). Only a set's TRAIN split is read; an evaluation split never is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from biomedserve.data.records import UNSURE, TypedLayersSentence, running_texts
from biomedserve.errors import BiomedserveError
from biomedserve.text.words import split_sentences, split_words


def _source_texts(source: str, data_dir: str | Path | None) -> list[str]:
    """The running texts of one ``pseudo_label_texts`` entry: a BLURB set's train split, else a file
    (or folder, or glob) the annotator's readers take, one text per passage."""
    from biomedserve.data.registry import DATASETS, get_dataset

    if source in DATASETS:
        spec = get_dataset(source)
        if spec.entity_masks is not None:
            raise BiomedserveError(f"pseudo_label_texts: {source}'s sentences have their entities masked "
                                   f"({spec.entity_masks}); it has no running text to label")
        return [text for record in spec.load("train", data_dir) for text in running_texts(record)]
    from biomedserve.data.document_readers import read_items, resolve_inputs
    from biomedserve.data.documents import Document, ReadError

    try:
        inputs = resolve_inputs([source])
    except BiomedserveError as exc:
        raise BiomedserveError(f"pseudo_label_texts: {source!r} is neither a BLURB set ({', '.join(DATASETS)}) "
                               f"nor a readable file: {exc}") from None
    texts = []
    for item_source in inputs:
        for _, item in read_items(item_source):
            if isinstance(item, ReadError):
                raise BiomedserveError(f"pseudo_label_texts: {item.source}, {item.location}: {item.reason}")
            if isinstance(item, Document):
                texts += [passage.text for passage in item.passages]
    return texts


def unlabeled_sentences(sources: Sequence[str], data_dir: str | Path | None = None) -> list[TypedLayersSentence]:
    """Every sentence of ``sources`` (``pseudo_label_texts``) as a record that annotates no type,
    cut into sentences and words by the runtime's rules (so their words are those the model meets when
    it annotates raw text), each source its own corpus (``text:<source>``) for corpus sampling. A
    sentence already given (by this source or an earlier one) is kept once."""
    seen: set[str] = set()
    records = []
    for source in sources:
        for text in _source_texts(source, data_dir):
            for sentence in split_sentences(text):
                tokens = [word.text for word in split_words(sentence)]
                key = " ".join(tokens)
                if tokens and key not in seen:
                    seen.add(key)
                    records.append(TypedLayersSentence(tokens=tokens, layers={}, corpus=f"text:{source}"))
    if sources and not records:
        raise BiomedserveError(f"pseudo_label_texts: {', '.join(sources)} held no text")
    return records


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
