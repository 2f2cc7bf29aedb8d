"""Shared fixtures: a tiny random BERT (real MiniLM vocabulary) and one tiny trained model dir.

Unit tests never need the real encoder's weights: a 2-layer, 32-wide BERT trains in a second,
exports in a few, and exercises every code path the real model does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.pubmed_samples import corpus  # noqa: F401  (the PubMed/JSONL/text corpus fixture of the reader and job tests)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A random 2-layer BERT saved with the embedded encoder's uncased WordPiece tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from biomedserve.modeling.encoders import default_encoder_path

    path = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(str(default_encoder_path()))
    tokenizer.save_pretrained(str(path))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_base, tmp_path_factory) -> Path:
    """A model directory trained for a few steps on BC5-chem, exported and scored: the whole path."""
    from biomedserve.training.finetune import TrainOptions, train
    from biomedserve.training.recipes import Recipe

    out = tmp_path_factory.mktemp("models") / "tiny-bc5chem"
    recipe = Recipe(dataset="BC5-chem", base_model=str(tiny_base), learning_rate=5e-3, max_steps=120,
                    batch_size=16, max_length=64, seed=13)
    train(recipe, out, TrainOptions(limit_train=1920, limit_eval=200, progress=False))
    return out


@pytest.fixture(scope="session")
def pico_data_dir(tmp_path_factory) -> Path:
    """EBM-PICO has no staged train split: a data dir whose train.tsv is the first dev documents."""
    import shutil

    from biomedserve.data.location import resolve_data_dir

    root = tmp_path_factory.mktemp("blurb")
    source = resolve_data_dir() / "EBM-PICO"
    (root / "EBM-PICO").mkdir()
    for split in ("dev", "test"):
        shutil.copy(source / f"{split}.tsv", root / "EBM-PICO" / f"{split}.tsv")
    head = (source / "dev.tsv").read_text(encoding="utf-8").split("-DOCSTART-")[1:6]
    (root / "EBM-PICO" / "train.tsv").write_text("".join("-DOCSTART-" + d for d in head), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def tiny_task_model(tiny_base, pico_data_dir, tmp_path_factory):
    """``tiny_task_model(dataset)`` → (model dir, data dir): a 3-step model of that dataset's task type."""
    from biomedserve.training.finetune import TrainOptions, train
    from biomedserve.training.recipes import Recipe

    models: dict[str, tuple[Path, Path | None]] = {}

    def get(dataset: str):
        if dataset not in models:
            out = tmp_path_factory.mktemp("task-models") / dataset
            recipe = Recipe(dataset=dataset, base_model=str(tiny_base), learning_rate=1e-3, max_steps=3,
                            batch_size=8, eval_batch_size=8, max_length=64, seed=3,
                            single_segment=dataset == "PubMedQA",
                            truncation_side="left" if dataset == "PubMedQA" else "right")
            data_dir = pico_data_dir if dataset == "EBM-PICO" else None
            train(recipe, out, TrainOptions(data_dir=data_dir, limit_train=24, limit_eval=12, progress=False))
            models[dataset] = (out, data_dir)
        return models[dataset]

    return get


@pytest.fixture(scope="session")
def tiny_two_type_model(tiny_base, tmp_path_factory) -> Path:
    """A model directory of two entity types (BC5CDR: CHEMICAL + DISEASE), trained as :func:`tiny_model`
    is, long enough to find entities of both types."""
    from biomedserve.training.finetune import TrainOptions, train
    from biomedserve.training.recipes import Recipe

    out = tmp_path_factory.mktemp("models") / "tiny-bc5cdr"
    recipe = Recipe(dataset="BC5CDR", base_model=str(tiny_base), learning_rate=5e-3, max_steps=120,
                    batch_size=16, max_length=64, seed=13)
    train(recipe, out, TrainOptions(limit_train=1920, limit_eval=200, progress=False))
    return out


@pytest.fixture(scope="session")
def tiny_multicorpus_model(tiny_base, tmp_path_factory) -> Path:
    """A model directory of the ten-corpus set (NER-multicorpus: a head per gene guideline, SPECIES),
    trained as :func:`tiny_model` is on the first records of every corpus."""
    from biomedserve.training.finetune import TrainOptions, train
    from biomedserve.training.recipes import Recipe

    out = tmp_path_factory.mktemp("models") / "tiny-multicorpus"
    recipe = Recipe(dataset="NER-multicorpus", base_model=str(tiny_base), learning_rate=5e-3, max_steps=160,
                    batch_size=16, max_length=64, seed=5, corpus_sampling_temperature=2.0)
    train(recipe, out, TrainOptions(limit_train=1800, limit_eval=90, progress=False))
    return out
