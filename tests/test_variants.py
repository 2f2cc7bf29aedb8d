"""Variants: built with optimum/ORT, gated on dev against fp32, chosen by the runtime."""

import shutil

import pytest

from biomedserve.errors import BiomedserveError, ModelDirError
from biomedserve.modeldir import read_meta
from biomedserve.runtime import Predictor
from biomedserve.variants import INT8_REMEDIES, VariantPlan, build_variant, cpu_isa, int8_remedies, pick_cpu_default


@pytest.fixture
def model(tiny_model, tmp_path):
    target = tmp_path / "m"
    shutil.copytree(tiny_model, target)
    return target


def _quiet(*_):
    pass


def test_plan_names_and_validation():
    assert VariantPlan(optimize="O2", quantize="int8").name == "o2-int8"
    assert VariantPlan(quantize="int8").name == "int8"
    assert VariantPlan(fp16=True).name == "o4-fp16"
    with pytest.raises(BiomedserveError, match="O1, O2"):
        VariantPlan(optimize="O9")
    with pytest.raises(BiomedserveError, match="exclusive"):
        VariantPlan(fp16=True, quantize="int8")
    assert cpu_isa() in {"avx512_vnni", "avx512", "avx2", "arm64"}


def test_optimised_int8_variant_is_built_gated_and_served(model):
    entry = build_variant(model, VariantPlan(optimize="O2", quantize="int8"), limit=40, progress=False, log=_quiet)
    assert (model / "model.o2-int8.onnx").is_file()
    assert entry["attempts"] and entry["reference_dev"] is not None
    meta = read_meta(model)
    assert "model.o2-int8.onnx" in meta.files  # checksummed like every other file
    assert meta.default_variant == ("o2-int8" if entry["passed"] else "fp32")
    predictor = Predictor.from_dir(model, variant="o2-int8")
    assert predictor.variant == "model.o2-int8.onnx"
    text = "Naloxone reversed the effect of clonidine."
    for e in predictor.predict(text):
        assert text[e.start:e.end] == e.text
    assert "## Variants" in (model / "README.md").read_text()


def test_a_variant_failing_the_gate_is_not_the_default_unless_forced(model, monkeypatch):
    import biomedserve.variants as variants

    monkeypatch.setattr(variants, "MAX_LOSS", -1000.0)  # nothing can pass
    entry = build_variant(model, VariantPlan(quantize="int8"), limit=30, progress=False, log=_quiet)
    assert entry["passed"] is False and "loses" in entry["reason"]
    assert len(entry["attempts"]) == len(int8_remedies(entry["isa"]))  # every remedy for this CPU was tried
    assert read_meta(model).default_variant == "fp32"
    assert Predictor.from_dir(model).variant == "model.onnx"
    forced = build_variant(model, VariantPlan(quantize="int8"), force=True, limit=30, progress=False, log=_quiet)
    assert forced["forced"] is True
    assert read_meta(model).default_variant == "int8"
    assert Predictor.from_dir(model).variant == "model.int8.onnx"


def test_corrupt_variant_fails_at_load(model):
    build_variant(model, VariantPlan(optimize="O1"), limit=20, progress=False, log=_quiet)
    (model / "model.o1.onnx").write_bytes(b"broken")
    with pytest.raises(ModelDirError, match="model.o1.onnx"):
        Predictor.from_dir(model, variant="o1")


def test_unknown_variant_lists_the_known_ones(model):
    with pytest.raises(ModelDirError, match="fp32"):
        Predictor.from_dir(model, variant="int4")


def test_default_prefers_int8_then_the_lighter_graph():
    variants = {"o1": {"passed": True, "optimize": "O1"}, "int8": {"passed": False, "quantize": "int8"},
                "o2-int8": {"passed": True, "optimize": "O2", "quantize": "int8"}}
    assert pick_cpu_default(variants, "fp32") == "o2-int8"
    variants["int8"]["passed"] = True
    assert pick_cpu_default(variants, "o2-int8") == "int8"  # measured faster: see _speed_rank
    assert pick_cpu_default({"x": {"passed": False}}, "fp32") == "fp32"


def test_quint8_weights_are_tried_only_where_u8s8_saturates():
    # a VNNI CPU keeps its fast U8S8 kernel: U8U8 there would cost the speed int8 is for
    assert not any(r.unsigned_weights for r in int8_remedies("avx512_vnni"))
    assert int8_remedies("avx2") == INT8_REMEDIES and int8_remedies("avx512") == INT8_REMEDIES
    assert int8_remedies("avx512_vnni")[0] == INT8_REMEDIES[0]
