"""Multi-type NER: one encoder tags every entity type of several NER corpora in one forward pass.

The head is a plain ``AutoModelForTokenClassification`` with ``3 × n_types`` outputs, read as one
O/B/I head per type (``CHEMICAL:O``, ``CHEMICAL:B``, ``CHEMICAL:I``, ...), so optimum exports it and
ONNX Runtime runs it as any token classifier. Types overlap freely (a gene inside a disease name).

Each corpus annotates only some types: BC2GM marks genes and leaves its chemicals unmarked, so its
``O`` says nothing about chemicals. The loss is therefore a 3-way cross-entropy per type, masked
(-100) for every type the record's corpus does not annotate, as for non-first sub-words: an
unannotated type gets no training signal from that sentence, neither positive nor negative.

Scoring: strict entity F1 (seqeval IOB2 strict, as :mod:`biomedserve.tasks.ner`) of each source
corpus on its own types only, and the mean over the sources (``macro_f1``). JNLPBA is staged with
its five GENIA types collapsed to untyped B/I/O, so it teaches one type, ``BIOENTITY``; protein, DNA,
RNA, cell line and cell type cannot be told apart from the staged files.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from biomedserve.data.records import UNSURE, TypedLayersSentence
from biomedserve.data.registry import DatasetSpec
from biomedserve.errors import BiomedserveError
from biomedserve.runtime import builtin as task_types
from biomedserve.runtime.multi_ner import TYPE_TAGS, parse_type_head_labels, type_head_labels
from biomedserve.tasks.base import TaskDefinition
from biomedserve.tasks.ner import IGNORE_INDEX, entity_scores, type_tags
from biomedserve.text.encoding import make_windows, word_pieces
from biomedserve.text.words import resplit, spread_tags


def _tag_ids(tags: Sequence[str], entity_type: str, owner: Sequence[int]) -> list[int]:
    """One untyped B/I/O layer over the runtime's words (a token's tag spread over its words) as
    indices into :data:`TYPE_TAGS`; a teacher's unsure ``?`` (:mod:`biomedserve.training.pseudo_labels`) is -100
    on every word of its token."""
    ids = [TYPE_TAGS.index(tag.partition("-")[0])
           for tag in spread_tags(type_tags(["O" if t == UNSURE else t for t in tags], entity_type), owner)]
    return [IGNORE_INDEX if tags[token] == UNSURE else i for i, token in zip(ids, owner)]


def encode_typed_sentences(records: Sequence[TypedLayersSentence], tokenizer, entity_types: Sequence[str],
                           max_length: int) -> list[dict[str, Any]]:
    """Training features: one per window, ``labels`` a ``[tokens, n_types]`` list of tag indices.

    A label is set on each word's first sub-word for each type the record's corpus annotates (or a
    teacher labelled, ``record.pseudo``); every other cell is -100 (no signal). Windowing and word cutting are those of single-type NER
    (:func:`biomedserve.tasks.ner.encode_sentences`), so a long sentence is split, not truncated.
    Each feature carries its record's ``corpus`` for corpus sampling.
    """
    features = []
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    for index, record in enumerate(records):
        unknown = [t for t in record.layers if t not in entity_types]
        if unknown:
            raise BiomedserveError(f"{record.corpus} sentence {index} annotates {unknown[0]!r}, which is not one "
                                   f"of the model's types ({', '.join(entity_types)})")
        words, owner = resplit(record.tokens)
        # the corpus's own layers, else a teacher's (self-training), else no signal
        own = {**record.pseudo, **record.layers}
        layers = [_tag_ids(own[t], t, owner) if t in own else None for t in entity_types]
        word_labels = [[IGNORE_INDEX if ids is None else ids[w] for ids in layers] for w in range(len(words))]
        for window in make_windows(index, word_pieces(tokenizer, words), cls_id, sep_id, max_length):
            labels = [[IGNORE_INDEX] * len(entity_types) for _ in window.input_ids]
            for position, word in zip(window.first_piece, range(window.start, window.end)):
                labels[position] = word_labels[word]
            features.append({"input_ids": window.input_ids, "attention_mask": [1] * len(window.input_ids),
                             "labels": labels, "corpus": record.corpus})
    return features


@dataclass
class TypedLabelCollator:
    """Pads a batch of :func:`encode_typed_sentences` features: inputs by the tokenizer, labels to
    ``[batch, tokens, n_types]`` with -100 (transformers' token collator pads one label per token only).
    The ``corpus`` of each feature stays out of the batch."""

    tokenizer: Any

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        inputs = [{k: f[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in f} for f in features]
        batch = self.tokenizer.pad(inputs, return_tensors="pt")
        width, n_types = batch["input_ids"].shape[1], len(features[0]["labels"][0])
        labels = torch.full((len(features), width, n_types), IGNORE_INDEX, dtype=torch.long)
        for row, feature in enumerate(features):
            own = torch.tensor(feature["labels"], dtype=torch.long)
            if self.tokenizer.padding_side == "left":
                labels[row, width - len(own):] = own
            else:
                labels[row, : len(own)] = own
        batch["labels"] = labels
        return dict(batch)


def masked_type_loss(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
    """Per-type 3-way cross-entropy over ``[batch, tokens, n_types]`` labels, -100 cells skipped.

    The Trainer's ``compute_loss_func``: the logits ``[batch, tokens, 3 × n_types]`` are read as
    ``[batch, tokens, n_types, 3]``. The sum is divided by ``num_items_in_batch`` (the Trainer's count
    of labelled cells over the whole accumulated batch) when given, else by this batch's count, so a
    type no record of the batch annotates contributes nothing, and its head no gradient.
    """
    import torch
    import torch.nn.functional as F

    logits = outputs["logits"] if isinstance(outputs, Mapping) else outputs[0]
    per_type = logits.reshape(*labels.shape, len(TYPE_TAGS)).float()
    total = F.cross_entropy(per_type.reshape(-1, len(TYPE_TAGS)), labels.reshape(-1),
                            ignore_index=IGNORE_INDEX, reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else labels.ne(IGNORE_INDEX).sum()
    return total / torch.as_tensor(count, device=total.device).clamp(min=1)


def source_scores(gold: Mapping[str, list[list[str]]], pred: Mapping[str, list[list[str]]]) -> dict[str, float]:
    """Strict entity F1 per source (``f1_<source>``, over its own types' tag sequences) and their
    mean (``macro_f1``), in points; sources without sequences are left out."""
    scores = {f"f1_{source}": entity_scores(gold[source], pred[source])["f1"] for source in gold if gold[source]}
    return {"macro_f1": float(np.mean(list(scores.values()))) if scores else 0.0, **scores}


def _sources_by_types(spec: DatasetSpec) -> dict[frozenset[str], str]:
    """Each source of ``spec`` by the set of types it annotates: how the Trainer's dev metric, which
    sees labels but not records, tells a row's source (a -100 column is a type not annotated). Sources
    that annotate the same types (the four BioNLP protein corpora) are one dev group, named
    ``<a>+<b>+...``, scored together."""
    groups: dict[frozenset[str], list[str]] = {}
    for source, types in spec.corpus_types.items():
        groups.setdefault(frozenset(types), []).append(source)
    return {key: "+".join(names) for key, names in groups.items()}


def trainer_metrics(id2label: dict[int, str], spec: DatasetSpec):
    """``compute_metrics`` for the Trainer: per row, the types with labels name its source; each
    annotated type's first-sub-word logits → tags; :func:`source_scores` over the sources."""
    types = parse_type_head_labels([id2label[i] for i in range(len(id2label))])
    sources = _sources_by_types(spec)

    def compute(eval_pred) -> dict[str, float]:
        logits, labels = eval_pred.predictions, eval_pred.label_ids
        predicted = logits.reshape(*labels.shape, len(TYPE_TAGS)).argmax(-1)
        gold: dict[str, list[list[str]]] = defaultdict(list)
        pred: dict[str, list[list[str]]] = defaultdict(list)
        for p_row, l_row in zip(predicted, labels):
            annotated = [t for t in range(len(types)) if (l_row[:, t] != IGNORE_INDEX).any()]
            source = sources.get(frozenset(types[t] for t in annotated))
            if source is None:
                raise BiomedserveError(f"a {spec.name} dev row annotates {', '.join(types[t] for t in annotated)}, "
                                       "which is no source's set of types")
            for t in annotated:
                keep = l_row[:, t] != IGNORE_INDEX
                gold[source].append(_typed(l_row[keep, t], types[t]))
                pred[source].append(_typed(p_row[keep, t], types[t]))
        return source_scores(gold, pred)

    return compute


def _typed(indices: Sequence[int], entity_type: str) -> list[str]:
    """Tag indices of one type → IOB2 tags of that type."""
    return [TYPE_TAGS[i] if i == 0 else f"{TYPE_TAGS[i]}-{entity_type}" for i in indices]


def evaluate(predictor, records: Sequence[TypedLayersSentence], spec: DatasetSpec,
             progress: bool = False) -> dict[str, float]:
    """Score a multi-type predictor on records in file order: each corpus on the types it annotates
    (what the model finds of other types is not scored there), then the mean over the corpora."""
    layers = predictor.predict_words_by_type([r.tokens for r in records], progress=progress)
    gold: dict[str, list[list[str]]] = defaultdict(list)
    pred: dict[str, list[list[str]]] = defaultdict(list)
    for record, by_type in zip(records, layers):
        for entity_type, tags in record.layers.items():
            if entity_type not in by_type:
                raise BiomedserveError(f"{predictor.name} returns no {entity_type} entities, which "
                                       f"{record.corpus} annotates; it returns: {', '.join(by_type)}")
            gold[record.corpus].append(type_tags(tags, entity_type))
            pred[record.corpus].append(by_type[entity_type].tags)
    return source_scores(gold, pred)


MULTI_NER = TaskDefinition(
    task_type=task_types.MULTI_NER,
    onnx_task="token-classification",
    metric="macro_f1",
    labels=lambda spec: type_head_labels(spec.entity_types),
    features=lambda records, tok, label2id, spec, recipe: encode_typed_sentences(
        records, tok, parse_type_head_labels(list(label2id)), recipe.max_length
    ),
    trainer_metrics=trainer_metrics,
    evaluate=evaluate,
    token_level=True,
    collator=TypedLabelCollator,
    compute_loss=masked_type_loss,
)
