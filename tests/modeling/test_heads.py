"""Heads that read what the encoder was trained to produce: poolings, entity starts, the bi-encoder."""

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from biomedserve.export.head_onnx import export_head_onnx
from biomedserve.modeling.encoders import mean_pool
from biomedserve.modeling.heads import (
    POOLINGS,
    BiEncoder,
    PooledClassifier,
    entity_starts,
    load_head,
    save_head,
)


@pytest.fixture(scope="module")
def tokenizer(tiny_base):
    return AutoTokenizer.from_pretrained(str(tiny_base))


def _batch(tokenizer, texts, pairs=None):
    encoded = tokenizer(texts, pairs, padding=True, return_tensors="pt")
    return {k: v for k, v in encoded.items()}


def test_masked_mean_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert mean_pool(hidden, mask).tolist() == [[2.0, 3.0]]


def test_entity_starts_read_the_first_two_markers():
    hidden = torch.arange(2 * 6 * 2, dtype=torch.float32).view(2, 6, 2)
    ids = torch.tensor([[101, 7, 900, 8, 901, 102], [101, 901, 5, 5, 5, 102]])
    got = entity_starts(hidden, ids, torch.tensor([900, 901]))
    assert got[0].tolist() == [*hidden[0, 2].tolist(), *hidden[0, 4].tolist()]
    # one marker only: the missing second reads [CLS]
    assert got[1].tolist() == [*hidden[1, 1].tolist(), *hidden[1, 0].tolist()]


@pytest.mark.parametrize("pooling", POOLINGS)
def test_each_pooling_trains_and_round_trips(pooling, tiny_base, tokenizer, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    tokenizer.add_tokens(["@GENE$", "@DISEASE$"], special_tokens=True)
    encoder = AutoModel.from_pretrained(str(tiny_base))
    encoder.resize_token_embeddings(len(tokenizer))
    markers = tokenizer.convert_tokens_to_ids(["@GENE$", "@DISEASE$"])
    assert tokenizer.tokenize("@GENE$ causes @DISEASE$") == ["@GENE$", "causes", "@DISEASE$"]
    torch.manual_seed(0)
    model = PooledClassifier(encoder, 3, pooling, marker_ids=markers)
    batch = _batch(tokenizer, ["@GENE$ causes @DISEASE$ in mice.", "No link between @GENE$ and @DISEASE$."])
    out = model(**batch, labels=torch.tensor([1, 2]))
    assert out.logits.shape == (2, 3) and out.loss.requires_grad
    out.loss.backward()
    assert model.classifier.weight.grad.abs().sum() > 0
    save_head(model, tmp_path)
    loaded = load_head(tmp_path)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(**batch).logits, loaded(**batch).logits, atol=1e-6)


@pytest.mark.parametrize("pooling", ["cls", "mean", "entity_start"])
def test_pooled_heads_export_to_onnx_with_parity(pooling, tiny_base, tmp_path):
    import onnxruntime as ort

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    tokenizer.add_tokens(["@CHEMICAL$", "@GENE$"], special_tokens=True)
    encoder = AutoModel.from_pretrained(str(tiny_base))
    encoder.resize_token_embeddings(len(tokenizer))
    model = PooledClassifier(encoder, 6, pooling,
                             marker_ids=tokenizer.convert_tokens_to_ids(["@CHEMICAL$", "@GENE$"])).eval()
    path = export_head_onnx(model, tmp_path / "model.onnx", uses_token_types=True)
    assert not model.training  # exporting leaves the model in eval mode
    session = ort.InferenceSession(str(path))
    texts = ["@CHEMICAL$ inhibits @GENE$.", "The @GENE$ inhibitor @CHEMICAL$ was given twice daily to rats."]
    batch = _batch(tokenizer, texts)
    feed = {k: v.numpy() for k, v in batch.items()}
    got = session.run(["logits"], feed)[0]
    with torch.no_grad():
        want = model(**batch).logits.numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_biencoder_starts_from_the_encoders_cosine_and_exports(tiny_base, tokenizer, tmp_path):
    import onnxruntime as ort

    model = BiEncoder(AutoModel.from_pretrained(str(tiny_base))).eval()
    a = _batch(tokenizer, ["A cat sat.", "Genes regulate growth.", "Aspirin reduces fever."])
    b = _batch(tokenizer, ["A cat was sitting.", "Stocks fell.", "Fever is lowered by aspirin."])
    with torch.no_grad():
        cos = model.cosine(a["input_ids"], a["attention_mask"], b["input_ids"], b["attention_mask"])
    labels = 3.0 * cos + 0.5
    model.fit_affine(cos, labels)
    assert model.scale.item() == pytest.approx(3.0, abs=1e-4) and model.shift.item() == pytest.approx(0.5, abs=1e-4)
    out = model(a["input_ids"], a["attention_mask"], b["input_ids"], b["attention_mask"], labels=labels)
    assert float(out.loss) < 1e-8
    save_head(model, tmp_path)
    loaded = load_head(tmp_path)
    assert loaded.scale.item() == pytest.approx(3.0, abs=1e-4)
    path = export_head_onnx(loaded, tmp_path / "model.onnx", uses_token_types=False)
    got = ort.InferenceSession(str(path)).run(["embeddings"], {"input_ids": a["input_ids"].numpy(),
                                                               "attention_mask": a["attention_mask"].numpy()})[0]
    with torch.no_grad():
        want = loaded.embed(a["input_ids"], a["attention_mask"]).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_the_stabilisation_helpers_work_on_the_new_heads(tiny_base):
    from biomedserve.training.stabilise import freeze_lower, parameter_groups, prune_top_layers, reinit_pooler

    model = PooledClassifier(AutoModel.from_pretrained(str(tiny_base)), 2, "mean")
    reinit_pooler(model, True)
    freeze_lower(model, True, 0)
    assert not any(p.requires_grad for p in model.encoder.embeddings.parameters())
    groups = parameter_groups(model, 1e-4, 0.0, 0.5)
    assert {g["lr"] for g in groups} == {1e-4, 5e-5}  # layer 1 at ξ·lr; the top layer and the head at lr
    prune_top_layers(model, 1)
    assert len(model.encoder.encoder.layer) == 1
