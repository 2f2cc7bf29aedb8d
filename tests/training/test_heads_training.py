"""The new heads through the whole path: train → model directory → ONNX (and int8) → runtime → service."""

import numpy as np
import pytest

from biomedserve.errors import RecipeError
from biomedserve.modeldir.card import read_meta
from biomedserve.runtime import Predictor
from biomedserve.training.finetune import TrainOptions, train
from biomedserve.training.recipes import Recipe


def _train(tiny_base, tmp_path, dataset, **fields):
    recipe = Recipe(dataset=dataset, base_model=str(tiny_base), learning_rate=1e-3, max_steps=3, batch_size=8,
                    eval_batch_size=8, max_length=64, seed=3, bf16=False, **fields)
    out = tmp_path / dataset
    train(recipe, out, TrainOptions(limit_train=24, limit_eval=12, progress=False, evaluate_splits=("dev",)))
    return out


def _same_on_both_backends(model_dir, inputs):
    onnx = Predictor.from_dir(model_dir).predict_raw(inputs)
    torch = Predictor.from_dir(model_dir, backend="torch").predict_raw(inputs)
    np.testing.assert_allclose(onnx, torch, atol=1e-4)
    return onnx


def test_entity_start_relation_model_reads_single_marker_tokens(tiny_base, tmp_path):
    model = _train(tiny_base, tmp_path, "GAD", pooling="entity_start")
    meta = read_meta(model)
    assert meta.head["pooling"] == "entity_start" and len(meta.head["marker_ids"]) == 2
    predictor = Predictor.from_dir(model)
    ids = predictor.tokenizer("@GENE$ binds @DISEASE$", None, truncation="longest_first", max_length=64)["input_ids"]
    assert len(ids) == 5 and set(meta.head["marker_ids"]) <= set(ids)  # each marker one token, as trained
    sentences = [("@GENE$ variants raise the risk of @DISEASE$.", None), ("No link of @GENE$ to @DISEASE$.", None)]
    assert _same_on_both_backends(model, sentences).shape == (2, 2)
    assert {r.label for r in predictor.predict([s for s, _ in sentences])} <= {"0", "1"}
    assert "dev/onnx@12" in meta.metrics


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_pooled_qa_and_hoc_models_serve_through_the_runtime(tiny_base, tmp_path, pooling):
    qa = _train(tiny_base, tmp_path, "BioASQ", pooling=pooling)
    assert _same_on_both_backends(qa, [("Is aspirin an NSAID?", "Aspirin is an NSAID.")]).shape == (1, 2)
    hoc = _train(tiny_base, tmp_path, "HoC", pooling=pooling, head_bias_prior=True)
    labels = Predictor.from_dir(hoc).predict("Tumour cells evade apoptosis. Angiogenesis was induced.")
    assert len(labels.probabilities) == 10


def test_biencoder_similarity_starts_from_fitted_cosine_and_serves(tiny_base, tmp_path):
    model = _train(tiny_base, tmp_path, "BIOSSES", head="biencoder")
    meta = read_meta(model)
    assert meta.head["head"] == "biencoder" and meta.head["scale"] != 1.0  # fitted to the labels
    pairs = [("A cat sat on the mat.", "A cat was sitting on a mat."), ("Genes regulate growth.", "Stocks fell.")]
    raw = _same_on_both_backends(model, pairs)
    assert raw.shape == (2, 1)
    scores = Predictor.from_dir(model).predict(pairs)
    assert all(0.0 <= s.score <= 4.0 for s in scores)


def test_custom_heads_go_through_the_int8_gate(tiny_base, tmp_path):
    from biomedserve.export.variants import VariantPlan, build_variant

    model = _train(tiny_base, tmp_path, "GAD", pooling="entity_start")
    record = build_variant(model, VariantPlan(quantize="int8"), force=True, limit=12, progress=False,
                           log=lambda *_: None)
    assert record.graph_file == "model.int8.onnx"
    assert Predictor.from_dir(model, variant="int8").predict("@GENE$ causes @DISEASE$.").label in {"0", "1"}


def test_head_fields_that_do_not_fit_the_task_are_named(tiny_base, tmp_path):
    with pytest.raises(RecipeError, match="pooling"):
        _train(tiny_base, tmp_path, "BC5-chem", pooling="mean")
    with pytest.raises(RecipeError, match="pooling: entity_start"):
        _train(tiny_base, tmp_path, "BioASQ", pooling="entity_start")
    with pytest.raises(RecipeError, match="head: biencoder"):
        _train(tiny_base, tmp_path, "GAD", head="biencoder")
