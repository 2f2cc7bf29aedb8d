"""The recipe's stabilisation fields reach the model and the optimiser during real training."""

import json

import torch
from safetensors.torch import load_file
from transformers import AutoConfig

from biomedserve.runtime import Predictor
from biomedserve.tasks import get_task
from biomedserve.training.finetune import TrainOptions, build_model, build_optimizer, train
from biomedserve.training.recipes import Recipe


def test_pruned_model_trains_exports_and_serves_with_fewer_layers(tiny_base, tmp_path):
    recipe = Recipe(dataset="GAD", base_model=str(tiny_base), max_steps=2, batch_size=8, max_length=32,
                    prune_top_layers=1)
    train(recipe, tmp_path / "m", TrainOptions(limit_train=16, limit_eval=8, progress=False))
    assert AutoConfig.from_pretrained(tmp_path / "m").num_hidden_layers == 1
    weights = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert not any("encoder.layer.1." in name for name in weights)
    assert Predictor.from_dir(tmp_path / "m").predict("@GENE$ and @DISEASE$").label in {"0", "1"}


def test_frozen_layers_are_unchanged_by_training(tiny_base, tmp_path):
    recipe = Recipe(dataset="GAD", base_model=str(tiny_base), max_steps=3, batch_size=8, max_length=32,
                    learning_rate=1e-2, freeze_embeddings=True, freeze_layers=1)
    train(recipe, tmp_path / "m", TrainOptions(limit_train=24, limit_eval=8, progress=False, evaluate_splits=()))
    before = load_file(str(tiny_base / "model.safetensors"))
    after = load_file(str(tmp_path / "m" / "model.safetensors"))
    for name, value in after.items():
        base_name = name.removeprefix("bert.")
        if base_name.startswith("embeddings.") or base_name.startswith("encoder.layer.0."):
            assert torch.equal(value, before[base_name]), name
    assert not torch.equal(after["bert.encoder.layer.1.output.dense.weight"],
                           before["encoder.layer.1.output.dense.weight"])


def test_optimizer_follows_the_recipe(tiny_base):
    recipe = Recipe(dataset="BIOSSES", base_model=str(tiny_base), bias_correction=False,
                    layerwise_lr_decay=0.5, learning_rate=1e-3, warmup_ratio=0.5)
    model = build_model(get_task("similarity"), str(tiny_base), ["score"], recipe)
    optimizer, schedule = build_optimizer(model, recipe, total_steps=10)
    assert all(group["bias_correction"] is False for group in optimizer.param_groups)
    rates = sorted({group["initial_lr"] for group in optimizer.param_groups})
    assert rates == [1e-3 * 0.5 ** 2, 1e-3 * 0.5, 1e-3]  # 2 layers: embeddings, layer 1, layer 2 + head
    assert schedule.get_last_lr()[0] == 0.0  # warm-up starts from zero


def test_refit_on_train_dev_records_the_selected_epochs(tiny_base, tmp_path):
    recipe = Recipe(dataset="BIOSSES", base_model=str(tiny_base), epochs=2, batch_size=16, max_length=64,
                    refit_train_dev=True, reinit_top_layers=1)
    meta = train(recipe, tmp_path / "m", TrainOptions(progress=False))
    prov = meta.provenance
    assert prov["best_dev"] is not None
    assert prov["refit_epochs_on_train_dev"] == prov["best_dev"]["epoch"]
    # the refit run saw train + dev (64 + 16 pairs → 5 steps per epoch at batch 16)
    last_step = prov["train_loss_curve"][-1][0] if prov["train_loss_curve"] else None
    assert last_step is None or last_step <= 5 * 2
    assert "test/onnx" in meta.metrics, json.dumps(meta.metrics)


def test_early_stopping_stops_before_the_last_epoch(tiny_base, tmp_path):
    recipe = Recipe(dataset="BIOSSES", base_model=str(tiny_base), epochs=40, batch_size=32, max_length=32,
                    learning_rate=1e-6, early_stopping_patience=1)
    meta = train(recipe, tmp_path / "m", TrainOptions(progress=False, evaluate_splits=()))
    evaluated = [e["epoch"] for e in meta.provenance["dev_history"]]
    assert len(evaluated) < 40


def test_the_saved_model_is_the_best_dev_epoch(tiny_base, tmp_path):
    # fp32 on every host: under bf16 autocast the tiny regression head's dev predictions collapse to
    # one value, and this test is about which epoch is kept, not about precision
    recipe = Recipe(dataset="BIOSSES", base_model=str(tiny_base), epochs=6, batch_size=16, max_length=64,
                    learning_rate=3e-3, seed=11, bf16=False)
    meta = train(recipe, tmp_path / "m", TrainOptions(progress=False, evaluate_splits=("dev",)))
    history = [e["pearson"] for e in meta.provenance["dev_history"]]
    assert len(history) == 6
    assert meta.metrics["dev/onnx"]["pearson"] == __import__("pytest").approx(max(history), abs=0.05)


def test_head_bias_prior_reaches_the_model_from_the_training_labels(tiny_base):
    import math

    import pytest

    from biomedserve.errors import RecipeError

    recipe = Recipe(dataset="HoC", base_model=str(tiny_base), head_bias_prior=True)
    train_set = [{"labels": [1.0] + [0.0] * 9}, {"labels": [0.0] * 10}, {"labels": [0.0] * 10},
                 {"labels": [0.0] * 10}]
    task = get_task("doc_classification")
    model = build_model(task, str(tiny_base), task.labels(None), recipe, train_set)
    assert model.classifier.bias[0].item() == pytest.approx(math.log(0.25 / 0.75), rel=1e-5)
    with pytest.raises(RecipeError, match="head_bias_prior"):
        build_model(get_task("ner"), str(tiny_base), ["O", "B", "I"], recipe.override(dataset="BC5-chem"), train_set)


def test_head_from_probe_starts_the_head_where_the_frozen_features_separate_the_labels(tiny_base):
    import pytest
    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoTokenizer

    from biomedserve.data.registry import get_dataset
    from biomedserve.errors import RecipeError
    from biomedserve.training.finetune import pooled_features

    task, spec = get_task("qa"), get_dataset("BioASQ")
    recipe = Recipe(dataset="BioASQ", base_model=str(tiny_base), pooling="mean", head_from_probe=True, max_length=64)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    records = spec.load("train")[:64]
    labels = task.labels(spec)
    train_set = task.features(records, tokenizer, {label: i for i, label in enumerate(labels)}, spec, recipe)
    model = build_model(task, str(tiny_base), labels, recipe, train_set, tokenizer)
    model.eval()
    with torch.no_grad():
        vectors = pooled_features(model, train_set, task, tokenizer)
        start = torch.softmax(model.classifier(vectors), 1)
    gold = [f["labels"] for f in train_set]
    # the head is scikit-learn's probe of these very vectors, fitted on these labels in this order
    probe = LogisticRegression(max_iter=2000).fit(vectors.numpy(), gold)
    assert start.numpy() == pytest.approx(probe.predict_proba(vectors.numpy()), abs=1e-4)
    # a recipe whose fields do not fit its task is refused when it is made, before any data is read
    with pytest.raises(RecipeError, match="head_from_probe"):
        Recipe(dataset="BioASQ", head_from_probe=True)
    with pytest.raises(RecipeError, match="head_from_probe"):
        recipe.override(head_bias_prior=True)
    with pytest.raises(RecipeError, match="head_from_probe"):
        Recipe(dataset="BIOSSES", pooling="mean", head_from_probe=True)
