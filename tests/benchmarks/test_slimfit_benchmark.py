"""benchmarks/slimfit.py: the static arm's ratio, the arms' recipes, the summary and its targets."""

from __future__ import annotations

from biomedserve.training.recipes import Recipe
from tests.benchmarks import load_benchmark

sf = load_benchmark("slimfit")


def test_static_freezing_is_the_nearest_share_of_slimfits_units():
    assert sf.static_layers(6, 0.75) == 4      # (1 + 24) / 37 = 0.68 is nearer 0.75 than (1 + 30) / 37 = 0.84
    assert sf.static_layers(12, 0.75) == 9     # (1 + 54) / 73 = 0.753
    assert sf.static_layers(6, 0.0) == 0


def test_every_arm_is_a_valid_recipe_of_the_same_budget():
    base = Recipe(dataset="BC5-chem")
    recipes = {arm: base.override(**sf.arm_overrides(arm, 6)) for arm in sf.ARMS}
    assert recipes["full"] == base
    assert recipes["static"].freeze_layers == 4 and recipes["static"].freeze_embeddings
    assert recipes["slimfit"].slimfit.freeze_ratio == sf.FREEZE_RATIO and recipes["slimfit"].slimfit.quantize_activations
    assert len({(r.epochs, r.learning_rate, r.batch_size) for r in recipes.values()}) == 1


def _cell(test: float, peak: int, step: float) -> dict:
    return {"test": test, "peak_bytes": peak, "peak_saved_activation_bytes": peak // 2, "peak_rss_bytes": 3 * peak,
            "seconds_per_step": step}


def test_the_summary_compares_the_arms_per_set_and_reports_missed_targets():
    cells = {}
    for dataset in ("BC5-chem", "HoC"):
        cells[f"{dataset}:full"] = _cell(80.0, 3000, 1.0)
        cells[f"{dataset}:static"] = _cell(78.0, 1500, 0.8)
        cells[f"{dataset}:slimfit"] = _cell(79.7, 1200, 0.7)
    cells["BIOSSES:full"] = _cell(70.0, 10, 1.0)  # an incomplete set is left out
    s = sf.summarize(cells, None)
    assert s["datasets"] == ["BC5-chem", "HoC"] and not s["complete"]
    assert s["memory_reduction"] == 2.5 and s["score_loss_mean"] == 0.3 and s["step_speedup_cpu"] == 1.43
    assert s["beats_static_freezing"] is True
    assert s["score_loss_per_set"] == {"BC5-chem": 0.3, "HoC": 0.3}
    page = sf.markdown({"summary": s, "cells": cells, "shape": None, "when": "now",
                        "machine": {"cpu": "x", "usable_cores": 2, "cpu_flags": ["avx2"]}})
    assert "| BIOSSES | slimfit | not run yet |" in page and "| steps ≥ 1.3× faster on CPU | 1.43 | yes |" in page
    assert sf.summarize({}, None) == {"datasets": [], "complete": False}


def test_every_set_has_the_recipe_the_arms_override_and_takes_each_arm():
    from biomedserve.training.recipes import find_recipe, load_recipe

    for dataset in sf.SETS:
        base = load_recipe(find_recipe(sf.RECIPE, dataset))
        for arm in sf.ARMS:
            recipe = base.override(**sf.arm_overrides(arm, 6))
            assert recipe.dataset == dataset and recipe.epochs == base.epochs


def test_the_interleaved_timing_splits_each_step_into_its_phases():
    import torch
    from transformers import BertConfig, BertForTokenClassification

    config = BertConfig(vocab_size=200, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=3)

    def make_model():
        torch.manual_seed(0)
        return BertForTokenClassification(config)

    inputs = {"input_ids": torch.randint(5, 200, (4, 16)), "labels": torch.randint(0, 3, (4, 16))}
    timing = sf.step_timing(make_model, 2, inputs, rounds=2, steps=2)
    for arm in sf.ARMS:
        phases = timing[arm]["phases"]
        assert set(phases) == {"forward", "backward", "optimizer", "scheduling"}
        assert phases["forward"] > 0 and phases["backward"] > 0 and min(phases.values()) >= 0
        assert timing[arm]["steps_timed"] == 2
    assert timing["full"]["phases"]["scheduling"] == 0 and timing["slimfit"]["phases"]["scheduling"] > 0
    timing.update({"model": "tiny", "batch": 4, "tokens": 16, "torch_threads": 1, "cpu_flags": ["avx2"]})
    page = sf.markdown({"summary": {}, "cells": {}, "shape": None, "timing": timing, "when": "now",
                        "machine": {"cpu": "x", "usable_cores": 2, "cpu_flags": ["avx2"]}})
    assert "| arm | s/step (median) | speed-up over full | forward | backward |" in page
    assert "of full fine-tuning's step and freezing leaves it as it is" in page


def test_backward_reach_counts_the_points_where_the_lowest_block_trains():
    units = ["embeddings", "encoder.layer.0.attention.self.query", "encoder.layer.1.attention.self.query"]
    pattern = {"frozen_share": dict.fromkeys(units, 0.5),
               "schedules": [{"step": 0, "frozen": units[:2]},                 # only block 1 trains
                             {"step": 50, "frozen": [units[0], units[2]]},     # block 0 trains
                             {"step": 100, "frozen": units[1:]}]}              # the embeddings train
    assert sf.backward_reach(pattern) == {"points": 3, "bottom": 2}
    assert sf.backward_reach(None) is None and sf.backward_reach({"schedules": []}) is None
