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
