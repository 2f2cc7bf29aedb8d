"""The scispaCy-recipe baseline: spaCy's CNN + transition-based NER trained on a BLURB NER set.

scispaCy's models cannot be installed here, so the comparison trains the same architecture with
``spacy train`` from ``train/spacy/ner.cfg`` on the same training sentences biomedserve uses.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from biomedserve.data.records import TypedLayersSentence
from biomedserve.data.registry import get_dataset
from biomedserve.errors import BiomedserveError
from biomedserve.package_data import RECIPES, package_folder
from biomedserve.tasks.ner import type_tags
from biomedserve.text.decoding import tags_to_spans

CONFIG = package_folder(RECIPES) / "spacy" / "ner.cfg"  # train/spacy/ner.cfg, shipped with the package


def to_docbin(dataset: str, split: str, data_dir=None, limit: int | None = None):
    """BLURB sentences as spaCy Docs (tokens as given, typed IOB2 entities) in a DocBin."""
    import spacy
    from spacy.tokens import Doc, DocBin

    spec = get_dataset(dataset)
    vocab = spacy.blank("en").vocab
    docs = DocBin()
    for record in spec.load(split, data_dir)[:limit]:
        if isinstance(record, TypedLayersSentence):
            docs.add(Doc(vocab, words=record.tokens, ents=flatten_layers(record)))
        else:
            docs.add(Doc(vocab, words=record.tokens, ents=type_tags(record.tags, spec.entity_type)))
    return docs


def flatten_layers(record: TypedLayersSentence) -> list[str]:
    """One IOB2 layer for spaCy's NER from a multi-type sentence's per-type layers.

    spaCy's NER has neither overlapping entities nor partially annotated sentences: an entity that
    overlaps one already placed (layers in the corpus's order) is dropped, and a type the corpus does
    not annotate is simply unmarked, i.e. taught as "not an entity" — the naive way to merge corpora
    that the multi-type model's masked loss avoids."""
    tags = ["O"] * len(record.tokens)
    for entity_type, layer in record.layers.items():
        for span in tags_to_spans(type_tags(layer, entity_type)):
            if all(tag == "O" for tag in tags[span.start:span.end]):
                tags[span.start] = f"B-{entity_type}"
                tags[span.start + 1:span.end] = [f"I-{entity_type}"] * (span.end - span.start - 1)
    return tags


def train_baseline(dataset: str, out: str | Path, data_dir=None, limit: int | None = None,
                   overrides: dict | None = None) -> Path:
    """``spacy train`` on the dataset's train/dev splits; returns the ``model-best`` pipeline folder.

    Only BIO-tagged NER sets (the scispaCy recipe's task): anything else is refused by name."""
    from spacy.cli.train import train

    if get_dataset(dataset).task not in ("ner", "multi_ner"):
        raise BiomedserveError(f"{dataset} is not an NER dataset")
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="spacy-baseline-") as tmp:
        paths = {}
        for split in ("train", "dev"):
            paths[split] = Path(tmp) / f"{split}.spacy"
            to_docbin(dataset, split, data_dir, limit).to_disk(paths[split])
        train(CONFIG, out, overrides={"paths.train": str(paths["train"]), "paths.dev": str(paths["dev"]),
                                      **(overrides or {})})
    return out / "model-best"
