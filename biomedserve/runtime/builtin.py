"""The built-in (BLURB) task types: each name with its predictor class and its input and output kinds.

Registered when ``biomedserve.runtime`` is imported. The training side (``biomedserve.tasks``)
references these records from its task definitions, so each type is defined once.
"""

from __future__ import annotations

from biomedserve.modeldir.task_types import InputKind, OutputKind, TaskType, register_task_type
from biomedserve.runtime.multi_ner import MultiTypeNerPredictor
from biomedserve.runtime.predictor import NerPredictor
from biomedserve.runtime.sequence import DocumentClassifierPredictor, PairClassifierPredictor, SimilarityPredictor

TOKENS = "AutoModelForTokenClassification"
SEQUENCE = "AutoModelForSequenceClassification"

NER = register_task_type(TaskType(
    "ner", NerPredictor, InputKind.TEXT, OutputKind.ENTITIES, TOKENS, "NER",
    "entity-level strict F1 (seqeval, IOB2)"))
PICO = register_task_type(TaskType(
    "pico", NerPredictor, InputKind.TEXT, OutputKind.ENTITIES, TOKENS, "PICO",
    "word-level macro F1 over PAR/INT/OUT"))
RELATION = register_task_type(TaskType(
    "relation", PairClassifierPredictor, InputKind.ENTITY_PAIR, OutputKind.LABEL, SEQUENCE,
    "relation extraction", "micro F1 over the positive relation classes"))
SIMILARITY = register_task_type(TaskType(
    "similarity", SimilarityPredictor, InputKind.TEXT_PAIR, OutputKind.SCORE, SEQUENCE,
    "sentence similarity", "Pearson correlation"))
DOC_CLASSIFICATION = register_task_type(TaskType(
    "doc_classification", DocumentClassifierPredictor, InputKind.DOCUMENT, OutputKind.LABELS, SEQUENCE,
    "document classification", "abstract-level micro F1 over the 10 hallmarks"))
QA = register_task_type(TaskType(
    "qa", PairClassifierPredictor, InputKind.TEXT_PAIR, OutputKind.LABEL, SEQUENCE,
    "question answering", "accuracy over question + context pairs"))
MULTI_NER = register_task_type(TaskType(
    "multi_ner", MultiTypeNerPredictor, InputKind.TEXT, OutputKind.ENTITIES, TOKENS, "multi-type NER",
    "mean over the source corpora of entity-level strict F1 (seqeval, IOB2) on each corpus's own types"))
