"""Variants: built with optimum/ORT, gated on dev against fp32, chosen by the runtime."""

import shutil

import pytest

from biomedserve.errors import BiomedserveError, ModelDirError
from biomedserve.export.variants import (
    INT8_REMEDIES,
    VariantPlan,
    build_variant,
    cpu_isa,
    int8_remedies,
    pick_cpu_default,
)
from biomedserve.modeldir.card import read_meta
from biomedserve.runtime import Predictor


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
    import biomedserve.export.variants as variants

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


def test_a_variant_is_recorded_as_a_typed_record_that_round_trips(model):
    from biomedserve.modeldir.card import GateAttempt, ModelMeta, VariantRecord

    build_variant(model, VariantPlan(quantize="int8"), force=True, limit=20, progress=False, log=_quiet)
    meta = read_meta(model)
    record = meta.variants["int8"]
    assert isinstance(record, VariantRecord) and all(isinstance(a, GateAttempt) for a in record.attempts)
    assert (record.name, record.graph_file) == ("int8", "model.int8.onnx")  # the name and the file, apart
    assert ModelMeta.model_validate_json(meta.model_dump_json()) == meta


def test_a_card_written_with_dict_variants_still_loads_and_falls_back(model, monkeypatch):
    """Cards from before VariantRecord: the graph under "file", no "name"; the ISA fallback still reads them."""
    import json

    import biomedserve.modeldir.variant_choice as variant_choice

    build_variant(model, VariantPlan(quantize="int8"), force=True, limit=20, progress=False, log=_quiet)
    card = json.loads((model / "biomedserve.json").read_text())
    old = card["variants"]["int8"]
    old["file"] = old.pop("graph_file")
    del old["name"], old["loss"]  # not written when absent
    card["variants"]["o1"] = {"file": "model.o1.onnx", "optimize": "O1", "passed": None}
    (model / "biomedserve.json").write_text(json.dumps(card))
    meta = read_meta(model)
    assert meta.variants["int8"].graph_file == "model.int8.onnx" and meta.variants["int8"].name == "int8"
    assert meta.variants["int8"]["isa"] == old["isa"] and meta.variants["o1"].get("quantize") is None
    assert Predictor.from_dir(model).variant == "model.int8.onnx"
    monkeypatch.setattr(variant_choice, "cpu_isa", lambda: "avx2" if old["isa"] != "avx2" else "avx512")
    assert Predictor.from_dir(model).variant == "model.onnx"  # gated on another CPU class: fp32
    card["variants"]["o1"]["name"] = "o2"  # a record filed under another name is refused, naming it
    (model / "biomedserve.json").write_text(json.dumps(card))
    with pytest.raises(ModelDirError, match="variants.*'o1'.*'o2'"):
        read_meta(model)


def test_gating_leaves_the_card_as_it_was_until_the_record_is_written(model, monkeypatch):
    """Each int8 attempt is scored by graph file; the card is written once, after the verdict."""
    import biomedserve.export.evaluation as evaluation

    card = (model / "biomedserve.json").read_bytes()
    seen = []
    real = evaluation.evaluate_model

    def spy(*args, **kwargs):
        seen.append(((model / "biomedserve.json").read_bytes(), kwargs["predictor"].variant))
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_model", spy)
    monkeypatch.setattr("biomedserve.export.variants.MAX_LOSS", -1000.0)  # every remedy is tried
    build_variant(model, VariantPlan(quantize="int8"), limit=20, progress=False, log=_quiet)
    graphs = [graph for _, graph in seen]  # fp32 first: the card has no dev score on these 20 examples
    assert graphs == ["model.onnx"] + ["model.int8.onnx"] * len(int8_remedies(cpu_isa()))
    assert all(during == card for during, _ in seen)
    assert (model / "biomedserve.json").read_bytes() != card and "int8" in read_meta(model).variants


def test_a_graph_file_opens_without_the_card_listing_it(model):
    shutil.copy(model / "model.onnx", model / "model.trial.onnx")
    predictor = Predictor.from_dir(model, graph="model.trial.onnx")
    assert predictor.variant == "model.trial.onnx" and predictor.graph_choice.variant == "trial"
    assert predictor.predict("Naloxone reversed the effect of clonidine.") is not None
    assert Predictor.from_dir(model, graph=model / "model.trial.onnx").variant == "model.trial.onnx"
    with pytest.raises(ModelDirError, match="model.none.onnx is missing"):
        Predictor.from_dir(model, graph="model.none.onnx")
    with pytest.raises(ModelDirError, match="not a file in"):
        Predictor.from_dir(model, graph=model.parent / "model.onnx")
    with pytest.raises(BiomedserveError, match="backend='onnx'"):
        Predictor.from_dir(model, backend="torch", graph="model.onnx")
