"""Opening a missing, incomplete or corrupt model directory fails at load with a clear message."""

import json
import shutil

import pytest

from biomedserve.errors import BiomedserveError, ModelDirError
from biomedserve.runtime import Predictor


@pytest.fixture
def copy(tiny_model, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(tiny_model, target)
    return target


def _fails(path, match, backend="onnx"):
    with pytest.raises(ModelDirError, match=match):
        Predictor.from_dir(path, backend=backend)


def test_missing_directory(tmp_path):
    _fails(tmp_path / "nope", "does not exist")


def test_not_a_model_directory(tmp_path):
    _fails(tmp_path, "biomedserve.json is missing")


def test_missing_onnx(copy):
    (copy / "model.onnx").unlink()
    _fails(copy, "model.onnx is missing")


def test_truncated_onnx(copy):
    data = (copy / "model.onnx").read_bytes()
    (copy / "model.onnx").write_bytes(data[: len(data) // 2])
    _fails(copy, "model.onnx is corrupt")


def test_same_size_but_flipped_bytes(copy):
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    _fails(copy, "SHA-256", backend="torch")


def test_garbage_onnx_without_checksum_is_caught_by_onnxruntime(copy):
    meta = json.loads((copy / "biomedserve.json").read_text())
    del meta["files"]["model.onnx"]
    (copy / "biomedserve.json").write_text(json.dumps(meta))
    (copy / "model.onnx").write_bytes(b"not a graph")
    _fails(copy, "could not be loaded by ONNX Runtime")


def test_corrupt_card(copy):
    (copy / "biomedserve.json").write_text("{not json")
    _fails(copy, "biomedserve.json is corrupt")


def test_card_missing_field(copy):
    meta = json.loads((copy / "biomedserve.json").read_text())
    del meta["labels"]
    (copy / "biomedserve.json").write_text(json.dumps(meta))
    _fails(copy, "labels")


def test_missing_tokenizer(copy):
    (copy / "tokenizer_config.json").unlink()
    _fails(copy, "tokenizer_config.json is missing")


def test_unknown_backend(tiny_model):
    with pytest.raises(BiomedserveError, match="unknown backend"):
        Predictor.from_dir(tiny_model, backend="tensorflow")


def test_a_damaged_graph_not_in_use_is_caught_at_load(copy):
    """model.onnx cut to a fraction while another graph is the default: the card lists it, so load fails."""
    from biomedserve.export.variants import VariantPlan, build_variant

    build_variant(copy, VariantPlan(quantize="int8"), force=True, limit=20, progress=False, log=lambda *_: None)
    assert Predictor.from_dir(copy).variant == "model.int8.onnx"
    data = (copy / "model.onnx").read_bytes()
    (copy / "model.onnx").write_bytes(data[: len(data) // 3])
    _fails(copy, "model.onnx is corrupt")


def test_no_silent_fallback_to_another_tokenizer(copy):
    """Without tokenizer.json, transformers would rebuild a tokenizer from a (here truncated) vocab.txt."""
    (copy / "tokenizer.json").unlink()
    vocab = (copy / "vocab.txt").read_text(encoding="utf-8").splitlines()
    (copy / "vocab.txt").write_text("\n".join(vocab[: len(vocab) // 2]) + "\n", encoding="utf-8")
    _fails(copy, "tokenizer.json is missing")
    # a card that never recorded tokenizer.json (an older model) still refuses to load without it
    meta = json.loads((copy / "biomedserve.json").read_text())
    meta["files"] = {k: v for k, v in meta["files"].items() if not k.startswith(("tokenizer", "vocab"))}
    (copy / "biomedserve.json").write_text(json.dumps(meta))
    _fails(copy, "tokenizer.json is missing")


def test_a_damaged_vocabulary_is_caught_even_with_tokenizer_json(copy):
    vocab = (copy / "vocab.txt").read_bytes()
    (copy / "vocab.txt").write_bytes(vocab[:-1000])
    _fails(copy, "vocab.txt is corrupt")


def test_metric_keys_are_built_and_parsed_in_one_place(tiny_model):
    from biomedserve.modeldir.card import read_meta
    from biomedserve.modeldir.metric_keys import MetricKey, metric_key, parse_metric_key

    assert metric_key("dev", "onnx", 200) == "dev/onnx@200"
    assert metric_key("test") == "test/onnx" and metric_key("test", "torch", 0) == "test/torch"
    assert parse_metric_key("dev/onnx@200") == MetricKey("dev", "onnx", 200)
    assert parse_metric_key("test/torch") == MetricKey("test", "torch", None)
    for bad in ("dev", "dev/", "/onnx", "dev/onnx@", "dev/onnx@x"):
        with pytest.raises(ValueError, match="metric key"):
            parse_metric_key(bad)
    # the keys training recorded are the helper's (the tiny model is scored on the first 200 examples)
    keys = read_meta(tiny_model).metrics
    assert {parse_metric_key(k) for k in keys} == {MetricKey("dev", "onnx", 200), MetricKey("test", "onnx", 200)}
    assert all(metric_key(*parse_metric_key(k)) == k for k in keys)
