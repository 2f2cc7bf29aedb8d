"""The scispaCy-recipe baseline: spaCy's CNN + transition-based NER trained on a BLURB NER set.

scispaCy's models cannot be installed here, so the comparison trains the same architecture with
``spacy train`` from ``train/spacy/ner.cfg`` on the same training sentences biomedserve uses.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from biomedserve.data.registry import get_dataset
from biomedserve.errors import BiomedserveError
from biomedserve.package_data import RECIPES, package_folder
from biomedserve.tasks.ner import type_tags

CONFIG = package_folder(RECIPES) / "spacy" / "ner.cfg"  # train/spacy/ner.cfg, shipped with the package


def to_docbin(dataset: str, split: str, data_dir=None, limit: int | None = None):
    """BLURB sentences as spaCy Docs (tokens as given, typed IOB2 entities) in a DocBin."""
    import spacy
    from spacy.tokens import Doc, DocBin

    spec = get_dataset(dataset)
    vocab = spacy.blank("en").vocab
    docs = DocBin()
    for sentence in spec.load(split, data_dir)[:limit]:
        docs.add(Doc(vocab, words=sentence.tokens, ents=type_tags(sentence.tags, spec.entity_type)))
    return docs


def train_baseline(dataset: str, out: str | Path, data_dir=None, limit: int | None = None,
                   overrides: dict | None = None) -> Path:
    """``spacy train`` on the dataset's train/dev splits; returns the ``model-best`` pipeline folder.

    Only BIO-tagged NER sets (the scispaCy recipe's task): anything else is refused by name."""
    from spacy.cli.train import train

    if get_dataset(dataset).task != "ner":
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
