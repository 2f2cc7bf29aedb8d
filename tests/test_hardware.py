"""Speed defaults decided on the host that runs: bf16 only with native support, int8 per CPU class."""

import logging
import shutil

import pytest

import biomedserve.hardware as hardware
import biomedserve.modeldir.variant_choice as variant_choice
from biomedserve.export.variants import VariantPlan, build_variant
from biomedserve.modeldir.card import read_meta
from biomedserve.runtime import Predictor
from biomedserve.training.recipes import Recipe, find_recipe, load_recipe

AVX2_ONLY = frozenset({"fpu", "sse4_2", "avx", "avx2", "fma"})
BF16_CPU = AVX2_ONLY | {"avx512f", "avx512_vnni", "avx512_bf16"}


@pytest.fixture
def avx2_host(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: AVX2_ONLY)
    monkeypatch.setattr(hardware, "_cuda_available", lambda: False)


def test_auto_is_off_without_native_bf16_and_says_why(avx2_host):
    decision = hardware.decide_bf16("auto")
    assert decision.used is False
    assert "avx512_bf16" in decision.reason and "no native" in decision.reason
    assert hardware.cpu_isa() == "avx2"


def test_auto_is_on_with_native_bf16(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: BF16_CPU)
    monkeypatch.setattr(hardware, "_cuda_available", lambda: False)
    decision = hardware.decide_bf16("auto")
    assert decision.used is True and "avx512_bf16" in decision.reason
    assert hardware.decide_bf16(False).used is False


def test_explicit_true_is_honoured_but_named_slow(avx2_host):
    decision = hardware.decide_bf16(True)
    assert decision.used is True and "although" in decision.reason


def test_no_standard_recipe_forces_bf16():
    """A recipe's default must be right on any host: bf16 is auto (or off), never forced on."""
    from pathlib import Path

    recipes = sorted(Path("train").glob("*/standard.yaml"))
    assert len(recipes) >= 12
    for path in recipes:
        assert load_recipe(path).bf16 in ("auto", False), path
    assert Recipe(dataset="BC5-chem").bf16 == "auto"
    assert load_recipe(find_recipe("standard", "BC5-chem")).bf16 == "auto"


def test_training_on_a_host_without_bf16_runs_fp32_and_the_card_says_why(tiny_base, tmp_path, avx2_host):
    from biomedserve.training.finetune import TrainOptions, train

    recipe = Recipe(dataset="BC5-chem", base_model=str(tiny_base), max_steps=2, batch_size=8, max_length=32)
    meta = train(recipe, tmp_path / "m", TrainOptions(limit_train=16, limit_eval=8, progress=False,
                                                      evaluate_splits=()))
    assert meta.provenance["bf16"]["used"] is False and meta.provenance["bf16"]["setting"] == "auto"
    assert "no native" in meta.provenance["bf16"]["reason"]
    assert "Training precision: fp32" in (tmp_path / "m" / "README.md").read_text()


def test_forcing_bf16_on_a_host_without_it_warns(tiny_base, tmp_path, avx2_host):
    from biomedserve.training.finetune import TrainOptions, train

    recipe = Recipe(dataset="BC5-chem", base_model=str(tiny_base), max_steps=1, batch_size=8, max_length=32,
                    bf16=True)
    with pytest.warns(UserWarning, match="slowly"):
        meta = train(recipe, tmp_path / "m", TrainOptions(limit_train=8, limit_eval=8, progress=False,
                                                          evaluate_splits=()))
    assert meta.provenance["bf16"]["used"] is True


@pytest.fixture
def int8_model(tiny_model, tmp_path):
    target = tmp_path / "m"
    shutil.copytree(tiny_model, target)
    build_variant(target, VariantPlan(quantize="int8"), force=True, limit=20, progress=False, log=lambda *_: None)
    return target


def test_int8_gated_on_another_cpu_class_is_not_trusted(int8_model, monkeypatch, caplog):
    gated_on = read_meta(int8_model).variants["int8"]["isa"]
    assert Predictor.from_dir(int8_model).variant == "model.int8.onnx"  # on the class it was gated on
    other = "avx2" if gated_on != "avx2" else "avx512_vnni"
    monkeypatch.setattr(variant_choice, "cpu_isa", lambda: other)
    with caplog.at_level(logging.INFO, logger="biomedserve"):
        predictor = Predictor.from_dir(int8_model)
    assert predictor.variant == "model.onnx"
    assert predictor.graph_choice.fallback
    lines = [r for r in caplog.records if "model.onnx" in r.getMessage()]
    assert len(lines) == 1 and gated_on in lines[0].getMessage() and other in lines[0].getMessage()
    # asked for by name it is used, and the reason says it was not gated here
    forced = Predictor.from_dir(int8_model, variant="int8")
    assert forced.variant == "model.int8.onnx" and "not on this" in forced.graph_choice.reason


def test_regating_on_this_cpu_class_makes_int8_the_default_again(int8_model, monkeypatch):
    other = "avx2" if read_meta(int8_model).variants["int8"]["isa"] != "avx2" else "avx512"
    monkeypatch.setattr(variant_choice, "cpu_isa", lambda: other)
    assert Predictor.from_dir(int8_model).variant == "model.onnx"
    build_variant(int8_model, VariantPlan(quantize="int8", isa=other), force=True, limit=20, progress=False,
                  log=lambda *_: None)
    assert read_meta(int8_model).variants["int8"]["isa"] == other
    chosen = Predictor.from_dir(int8_model)
    assert chosen.variant == "model.int8.onnx" and not chosen.graph_choice.fallback
