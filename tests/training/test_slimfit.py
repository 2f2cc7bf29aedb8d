"""SlimFit: the scheduler freezes what its scores say, frozen layers hold no optimizer state, int8
activations round-trip within their stated error, the memory count, the recipe block and a real run."""

from __future__ import annotations

import pytest
import torch

from biomedserve.errors import RecipeError
from biomedserve.training import slimfit
from biomedserve.training.recipes import Recipe
from biomedserve.training.slimfit import (
    MIN_SCHEDULES,
    MemoryMeter,
    SlimFitScheduler,
    freeze_units,
    pack_int8,
    unpack_int8,
)


@pytest.fixture()
def tiny(tiny_base):
    from transformers import AutoModelForTokenClassification

    torch.manual_seed(0)
    return AutoModelForTokenClassification.from_pretrained(str(tiny_base), num_labels=3)


def _move_all_but(units, still: str, step: float = 0.01) -> None:
    with torch.no_grad():
        for name, params in units.items():
            if name != still:
                for p in params:
                    p.add_(step * torch.randn_like(p))


def test_units_are_the_embeddings_then_every_encoder_linear_layer(tiny):
    units = freeze_units(tiny)
    assert list(units)[0] == "embeddings" and len(units) == 1 + 2 * 6  # 2 blocks x (q, k, v, out, ffn in, ffn out)
    assert all(name.startswith("encoder.layer.") for name in list(units)[1:])
    assert not any(p is q for params in units.values() for p in params for q in tiny.classifier.parameters())


def test_the_scheduler_freezes_the_unit_that_did_not_move(tiny):
    scheduler = SlimFitScheduler(tiny, freeze_ratio=0.25, interval=10)
    order = list(scheduler.units)
    first = scheduler.schedule(0)
    assert first == order[:3]  # nothing has moved: the lowest units first
    held = order[7]  # trainable now; it will be the one that does not change
    _move_all_but(scheduler.units, still=held)
    frozen = scheduler.schedule(10)
    # the units frozen before were never trained: +inf, so they train now; the constant one is frozen
    assert held in frozen and not set(first) & set(frozen)
    assert scheduler.scores[held] == 0.0
    assert all(not p.requires_grad for p in scheduler.units[held])
    assert all(p.requires_grad for name in order if name not in frozen for p in scheduler.units[name])
    assert all(p.requires_grad for p in tiny.classifier.parameters())  # the head always trains
    # a frozen unit keeps its score; once every unit has a score, the least-moving share stays frozen
    _move_all_but(scheduler.units, still="")
    again = scheduler.schedule(20)
    assert held in again and len(again) == scheduler.n_frozen
    summary = scheduler.summary(30)
    assert [s["step"] for s in summary["schedules"]] == [0, 10, 20]
    assert summary["frozen_share"][held] == pytest.approx(20 / 30, abs=1e-3)


def test_a_short_run_is_scheduled_at_least_min_schedules_times(tiny):
    scheduler = SlimFitScheduler(tiny, freeze_ratio=0.25, interval=50)
    assert scheduler.fit_to_budget(22) == 2  # 22 // 8: at 50 it would never reschedule
    assert scheduler.fit_to_budget(10_000) == 50  # a long run keeps the interval asked for, never longer
    assert scheduler.fit_to_budget(3) == 1
    assert scheduler.summary(3)["interval_requested"] == 50


def test_frozen_units_get_no_gradient_and_no_optimizer_state(tiny):
    scheduler = SlimFitScheduler(tiny, freeze_ratio=0.5, interval=1)
    optimizer = torch.optim.AdamW(tiny.parameters(), lr=1e-3)
    ids = torch.randint(1000, 2000, (4, 12))
    labels = torch.randint(0, 3, (4, 12))

    def step() -> None:
        tiny(input_ids=ids, labels=labels).loss.backward()
        optimizer.step()

    frozen = scheduler.schedule(0, optimizer)
    step()
    frozen_params = [p for name in frozen for p in scheduler.units[name]]
    assert all(p.grad is None and p not in optimizer.state for p in frozen_params)
    assert all(p in optimizer.state for p in tiny.classifier.parameters())
    optimizer.zero_grad(set_to_none=True)
    now = scheduler.schedule(1, optimizer)
    newly = [p for name in set(now) - set(frozen) for p in scheduler.units[name]]
    assert newly and all(p not in optimizer.state for p in newly)  # state dropped on freezing


@pytest.mark.parametrize("fused", [True, False])
def test_int8_activations_round_trip_within_half_a_step(fused, monkeypatch):
    if not fused:  # the fallback where torch's fused quantizer is gone
        monkeypatch.setattr(slimfit, "_fused_quantize", lambda tensor, scale: None)
    torch.manual_seed(1)
    for tensor in (torch.randn(64, 384), 1e-3 * torch.randn(8, 128), torch.zeros(4, 300),
                   torch.randn(16, 64).to(torch.bfloat16)):
        packed = pack_int8(tensor)
        assert packed.values.dtype in (torch.int8, torch.qint8) and packed.values.element_size() == 1
        assert packed.values.shape == tensor.shape
        restored = unpack_int8(packed)
        assert restored.dtype == tensor.dtype
        error = (restored.float() - tensor.float()).abs().max()
        # bf16 keeps 8 significant bits: its own rounding comes on top of the int8 step
        bound = packed.scale / 2 + (float(tensor.float().abs().max()) / 2**8 if tensor.dtype == torch.bfloat16 else 0)
        assert float(error) <= bound + 1e-12


def test_the_meter_counts_saved_activations_and_int8_keeps_a_quarter(tiny):
    ids = torch.randint(1000, 2000, (8, 32))
    labels = torch.randint(0, 3, (8, 32))
    peaks = {}
    for quantize in (False, True):
        meter = MemoryMeter(quantize=quantize, skip=tiny.parameters())
        with meter.saved_tensors():
            loss = tiny(input_ids=ids, labels=labels).loss
        assert meter.alive > 0
        loss.backward()
        assert meter.alive == 0  # every saved tensor released after backward
        peaks[quantize] = meter.peak_activations
        assert (meter.quantized > 0) is quantize
    assert peaks[True] < 0.5 * peaks[False]


def test_a_tensor_saved_by_several_layers_is_held_and_counted_once(tiny):
    """A block's input is saved by its query, key and value layers: one holder, counted once (the count
    is the distinct saved tensors' bytes, found by an independent hook), packed once under int8."""
    ids = torch.randint(1000, 2000, (4, 16))
    labels = torch.randint(0, 3, (4, 16))
    params = {p.data_ptr() for p in tiny.parameters()}
    distinct = {}

    def record(t):
        if t.data_ptr() not in params:
            distinct[(t.data_ptr(), tuple(t.shape), t.stride())] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(record, lambda t: t):
        tiny(input_ids=ids, labels=labels).loss.backward()
    tiny.zero_grad()
    meter = MemoryMeter(skip=tiny.parameters())
    with meter.saved_tensors():
        loss = tiny(input_ids=ids, labels=labels).loss
    assert meter.shared >= tiny.config.num_hidden_layers * 2  # key and value reuse the query's holder
    assert meter.peak_activations == sum(distinct.values())
    loss.backward()
    assert meter.alive == 0


def test_the_scheduled_units_train_at_the_scaled_rate_and_the_head_at_the_recipes(tiny):
    from biomedserve.training.finetune import build_optimizer

    settings = {"dataset": "BC5-chem", "learning_rate": 1e-4, "layerwise_lr_decay": 0.9}
    recipe = Recipe(**settings, slimfit={"freeze_ratio": 0.75})
    assert recipe.slimfit.unit_lr_scale == pytest.approx(4.0)
    plain, _ = build_optimizer(tiny, Recipe(**settings), 10)
    scaled, _ = build_optimizer(tiny, recipe, 10)
    rate = {id(p): g["lr"] for g in plain.param_groups for p in g["params"]}
    units = {id(p) for params in freeze_units(tiny).values() for p in params}
    seen = 0
    for group in scaled.param_groups:
        for p in group["params"]:
            seen += 1
            assert group["lr"] == pytest.approx(rate[id(p)] * (4.0 if id(p) in units else 1.0))
    assert seen == len(rate) == len(list(tiny.parameters()))  # every parameter once, none lost in the split
    assert Recipe(dataset="BC5-chem", slimfit={"freeze_ratio": 0.5, "lr_scale": 1.0}).slimfit.unit_lr_scale == 1.0


@pytest.mark.parametrize("block, needle", [
    ({"freeze_ratio": 0.99}, "slimfit.freeze_ratio"),
    ({"interval": 0}, "slimfit.interval"),
    ({"lr_scale": 0}, "slimfit.lr_scale"),
    ({"freez_ratio": 0.5}, "slimfit.freez_ratio"),
])
def test_a_bad_slimfit_field_is_a_recipe_error_naming_it(block, needle):
    from pydantic import ValidationError

    from biomedserve.training.recipes import _explain

    with pytest.raises(ValidationError) as info:
        Recipe(dataset="BC5-chem", slimfit=block)
    assert needle in _explain(info.value, "test")
    with pytest.raises(RecipeError, match=needle):
        Recipe(dataset="BC5-chem").override(slimfit=block)


def test_slimfit_and_static_freezing_do_not_mix():
    with pytest.raises(RecipeError, match="slimfit: SlimFit chooses the frozen layers itself"):
        Recipe(dataset="BC5-chem").override(slimfit={}, freeze_layers=2)


def test_a_slimfit_recipe_trains_exports_and_serves(tiny_base, tmp_path):
    from biomedserve.modeldir.card import read_meta
    from biomedserve.runtime import Predictor
    from biomedserve.training.finetune import TrainOptions, train

    out = tmp_path / "slimfit-bc5chem"
    recipe = Recipe(dataset="BC5-chem", base_model=str(tiny_base), learning_rate=5e-3, max_steps=24, batch_size=16,
                    max_length=64, seed=3, slimfit={"freeze_ratio": 0.5, "interval": 8})
    meta = train(recipe, out, TrainOptions(limit_train=400, limit_eval=40, progress=False))
    pattern = meta.provenance["slimfit"]
    # 24 steps at interval 8 would schedule 3 times: the interval is shortened to 24 // MIN_SCHEDULES
    assert (pattern["interval_requested"], pattern["interval"]) == (8, 24 // MIN_SCHEDULES)
    assert [s["step"] for s in pattern["schedules"]] == list(range(0, 25, pattern["interval"]))
    assert all(len(s["frozen"]) == round(0.5 * pattern["units"]) for s in pattern["schedules"])
    assert pattern["lr_scale"] == pytest.approx(2.0)  # 1 / (1 - 0.5), the default, recorded in the card
    memory = meta.provenance["training_memory"]
    assert memory["activations_int8"] and memory["peak_saved_activation_bytes"] > 0
    assert read_meta(out).recipe["slimfit"]["interval"] == 8
    entities = Predictor.from_dir(out).predict("Naloxone reversed the effect of clonidine.")
    assert all(e.label == "CHEMICAL" for e in entities)  # an ordinary model directory
