"""Sweeps: seed statistics, catastrophic seeds, resumability, grid selection."""

import json

import pytest

from biomedserve.training.recipes import Recipe
from biomedserve.training.sweep import RunSpec, expand, run_one, run_path, seed_stats, select_on_dev, summarize


def test_seed_stats_and_catastrophic_seeds():
    stats = seed_stats([90.0, 88.0, 91.0, 30.0, 89.0])
    assert stats["n"] == 5 and stats["median"] == 89.0
    assert stats["catastrophic"] == 1  # 30 < 89 / 2
    assert stats["min"] == 30.0 and stats["max"] == 91.0
    assert stats["mean"] == pytest.approx(77.6)
    assert seed_stats([]) == {"n": 0}
    assert seed_stats([-24.0, -36.9, 5.0])["catastrophic"] == 2  # collapsed group: runs at or below zero


def test_expand_grid_and_seeds_with_stable_keys():
    recipe = Recipe(dataset="BIOSSES")
    runs = expand("stabilised", recipe, [1, 2], {"learning_rate": [1e-4, 5e-5]})
    assert len(runs) == 4 and len({r.key for r in runs}) == 4
    assert {r.variant for r in runs} == {"stabilised[learning_rate=0.0001]", "stabilised[learning_rate=5e-05]"}
    # the key depends on the resolved hyperparameters only, not on the variant name
    assert RunSpec("a", recipe).key == RunSpec("b", recipe).key
    assert RunSpec("a", recipe).key != RunSpec("a", recipe.override(seed=7)).key


def test_options_added_later_keep_finished_runs_keys():
    # the key BIOSSES standard seed 1 was recorded under (benchmarks/results/blurb_runs/minilm/BIOSSES/)
    # before `bf16`, `reinit_pooler` and `head_bias_prior` existed
    recipe = Recipe(dataset="BIOSSES", learning_rate=5e-5, epochs=5, batch_size=16, eval_batch_size=16,
                    max_length=128, seed=1)
    old = "e9c18a553706a752"
    assert RunSpec("a", recipe).key == old
    assert RunSpec("a", recipe.override(bf16="auto")).key == old  # a host decision, not a hyperparameter
    for changed in ({"bf16": True}, {"reinit_pooler": True}, {"head_bias_prior": True}, {"pooling": "mean"},
                    {"head": "biencoder"}, {"truncation_side": "left"}):
        assert RunSpec("a", recipe.override(**changed)).key != old, changed
    pooled = Recipe(dataset="GAD", pooling="mean")  # head_from_probe fits a classification task only
    assert RunSpec("a", pooled.override(head_from_probe=True)).key != RunSpec("a", pooled).key


def test_summarize_and_select_on_dev():
    results = [
        {"dataset": "D", "variant": "a", "dev": 50, "test": 40},
        {"dataset": "D", "variant": "a", "dev": 52, "test": 42},
        {"dataset": "D", "variant": "b", "dev": 60, "test": 39},
    ]
    summary = summarize(results)
    assert summary["D"]["a"]["mean"] == 41.0 and summary["D"]["b"]["n"] == 1
    assert select_on_dev(results) == "b"


def test_finished_runs_are_not_redone(tiny_base, tmp_path):
    recipe = Recipe(dataset="GAD", base_model=str(tiny_base), max_steps=2, batch_size=8, max_length=32, seed=1)
    run = RunSpec("standard", recipe)
    results = tmp_path / "runs"
    path = run_path(results, run)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"dataset": "GAD", "variant": "standard", "test": 12.5, "marker": True}))
    assert run_one(run, results)["marker"] is True  # read back, not retrained
    assert not (results / ".work").exists()


def test_a_run_can_be_scored_by_the_pytorch_weights(tiny_base, tmp_path):
    """``score_backend="torch"`` (a GPU machine whose ONNX Runtime is CPU-only) scores the same weights:
    the card records ``<split>/torch``, the result says so, and the ONNX graph scores within a point."""
    from biomedserve.export.evaluation import evaluate_model
    from biomedserve.modeldir.card import read_meta
    from biomedserve.modeldir.metric_keys import metric_key

    recipe = Recipe(dataset="GAD", base_model=str(tiny_base), max_steps=2, batch_size=8, max_length=32, seed=1)
    kept = tmp_path / "kept"
    result = run_one(RunSpec("standard", recipe), tmp_path / "runs", keep_model=kept, score_backend="torch")
    card = read_meta(kept)
    assert result["scored_with"] == "torch" and result["test"] is not None
    assert metric_key("test") not in card.metrics
    assert result["test"] == card.metrics[metric_key("test", "torch")][result["metric"]]
    onnx = evaluate_model(kept, split="test", backend="onnx")
    assert onnx.score == pytest.approx(result["test"], abs=1.0)
