"""Shared fixtures: a tiny random BERT (real MiniLM vocabulary) and one tiny trained model dir.

Unit tests never need the real encoder's weights: a 2-layer, 32-wide BERT trains in a second,
exports in a few, and exercises every code path the real model does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A random 2-layer BERT saved with the embedded encoder's uncased WordPiece tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from biomedserve.encoders import default_encoder_path

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
    from biomedserve.recipes import Recipe
    from biomedserve.training import TrainOptions, train

    out = tmp_path_factory.mktemp("models") / "tiny-bc5chem"
    recipe = Recipe(dataset="BC5-chem", base_model=str(tiny_base), learning_rate=5e-3, max_steps=30,
                    batch_size=16, max_length=64, seed=13)
    train(recipe, out, TrainOptions(limit_train=480, limit_eval=200, progress=False))
    return out
