"""The whole path on a tiny random BERT: train → save → export → evaluate → model card."""

import json

from biomedserve.modeldir.card import META_FILE, read_meta


def test_model_directory_is_complete(tiny_model):
    for name in ("config.json", "model.safetensors", "model.onnx", "tokenizer.json", "vocab.txt",
                 "tokenizer_config.json", META_FILE, "README.md"):
        assert (tiny_model / name).is_file(), name
    assert not (tiny_model / ".checkpoints").exists()
    assert not (tiny_model / "training_args.bin").exists()


def test_card_records_task_labels_metrics_and_provenance(tiny_model):
    meta = read_meta(tiny_model)
    assert meta.task == "ner" and meta.dataset == "BC5-chem"
    assert meta.labels == ["O", "B-CHEMICAL", "I-CHEMICAL"]
    assert meta.max_length == 64 and meta.recipe["max_steps"] == 120
    # limited runs are recorded apart from full-split scores
    assert set(meta.metrics) == {"dev/onnx@200", "test/onnx@200"}
    assert all(0 <= s["f1"] <= 100 for s in meta.metrics.values())
    prov = meta.provenance
    assert set(prov["data_sha256"]) == {"train", "dev", "test"}
    assert all(len(v) == 64 for v in prov["data_sha256"].values())
    assert {"torch", "transformers", "onnxruntime", "optimum"} <= set(prov["packages"])
    assert "commit" in prov["git"]
    assert prov["dev_history"], "dev was evaluated during training"
    # every file is recorded, tokenizer included, so any damaged file is caught at load
    assert {"model.onnx", "config.json", "model.safetensors", "tokenizer.json", "vocab.txt",
            "tokenizer_config.json"} <= set(meta.files)
    assert "README.md" not in meta.files and "biomedserve.json" not in meta.files
    card = (tiny_model / "README.md").read_text()
    assert "BC5-chem" in card and "test/onnx@200" in card


def test_tiny_model_learned_something(tiny_model):
    # 120 steps of a 2-layer, 32-wide random BERT: far from good, but the loss falls and entities appear
    meta = read_meta(tiny_model)
    curve = meta.provenance["train_loss_curve"]
    assert len(curve) >= 3, json.dumps(curve)
    assert curve[-1][1] < 0.8 * curve[0][1], json.dumps(curve)
    assert meta.metrics["dev/onnx@200"]["f1"] > 20, json.dumps(meta.metrics)


def test_same_seed_same_model(tiny_base, tmp_path):
    """Deterministic seeds: two short runs with one seed give bit-identical weights."""
    from safetensors.numpy import load_file

    from biomedserve.training.finetune import TrainOptions, train
    from biomedserve.training.recipes import Recipe

    recipe = Recipe(dataset="BC5-chem", base_model=str(tiny_base), max_steps=3, batch_size=8,
                    max_length=32, seed=5)
    options = TrainOptions(limit_train=48, limit_eval=16, progress=False, evaluate_splits=())
    first = load_file(str(train(recipe, tmp_path / "a", options) and tmp_path / "a" / "model.safetensors"))
    second = load_file(str(train(recipe, tmp_path / "b", options) and tmp_path / "b" / "model.safetensors"))
    assert first.keys() == second.keys()
    assert all((first[k] == second[k]).all() for k in first)


def test_bf16_autocast_trains_and_keeps_fp32_weights(tiny_base, tmp_path):
    """bf16 is a training-speed option only: the saved weights (and so the ONNX export) stay fp32."""
    from safetensors.numpy import load_file

    from biomedserve.training.finetune import TrainOptions, train
    from biomedserve.training.recipes import Recipe

    recipe = Recipe(dataset="BC5-chem", base_model=str(tiny_base), max_steps=3, batch_size=8,
                    max_length=32, seed=5, bf16=True, learning_rate=1e-2)
    options = TrainOptions(limit_train=48, limit_eval=16, progress=False, evaluate_splits=())
    meta = train(recipe, tmp_path / "m", options)
    weights = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert {str(w.dtype) for w in weights.values()} == {"float32"}
    assert meta.recipe["bf16"] is True
    train(recipe.override(bf16=False), tmp_path / "f", options)
    fp32 = load_file(str(tmp_path / "f" / "model.safetensors"))
    assert any(not (fp32[k] == weights[k]).all() for k in weights), "autocast had no effect"


def test_train_is_fine_tune_then_build_model_dir(tiny_base, tmp_path, monkeypatch):
    """Fine-tuning returns a model in memory and writes nothing; building the directory is its own step."""
    import biomedserve.export.onnx as export
    from biomedserve.runtime import Predictor
    from biomedserve.training.finetune import TrainedModel, TrainOptions, fine_tune, save_trained, train
    from biomedserve.training.recipes import Recipe

    recipe = Recipe(dataset="BC5-chem", base_model=str(tiny_base), max_steps=2, batch_size=8, max_length=32, seed=5)
    options = TrainOptions(limit_train=16, limit_eval=8, progress=False, evaluate_splits=("dev",))
    trained = fine_tune(recipe, options)
    assert isinstance(trained, TrainedModel) and list(tmp_path.iterdir()) == []  # it has no directory to write
    assert trained.history and trained.labels == ["O", "B-CHEMICAL", "I-CHEMICAL"] and trained.train_seconds > 0
    meta = save_trained(trained, tmp_path / "m", options)
    assert "model.onnx" not in meta.files and not (tmp_path / "m" / "biomedserve.json").exists()
    built = export.build_model_dir(tmp_path / "m", meta, evaluate=("dev",), limit=8)
    assert set(built.metrics) == {"dev/onnx@8"} and "model.onnx" in built.files
    assert Predictor.from_dir(tmp_path / "m").variant == "model.onnx"

    calls = []
    real = export.build_model_dir
    monkeypatch.setattr(export, "build_model_dir", lambda *a, **k: calls.append(k) or real(*a, **k))
    monkeypatch.setattr("biomedserve.training.finetune.build_model_dir", export.build_model_dir)
    train(recipe, tmp_path / "t", options)
    assert calls == [{"evaluate": ("dev",), "data_dir": None, "limit": 8, "progress": False, "backend": "onnx"}]


def test_export_rebuilds_the_directory_with_the_step_train_ends_with(tiny_model, tmp_path, monkeypatch):
    import shutil

    from typer.testing import CliRunner

    import biomedserve.export.onnx as export
    from biomedserve.checksums import file_sha256
    from biomedserve.cli import app

    model = tmp_path / "m"
    shutil.copytree(tiny_model, model)
    before = read_meta(model)
    (model / "model.onnx").write_bytes(b"stale")
    calls = []
    real = export.build_model_dir
    monkeypatch.setattr(export, "build_model_dir", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    result = CliRunner().invoke(app, ["export", str(model)])
    assert result.exit_code == 0, result.output
    assert calls == [model]
    after = read_meta(model)
    assert after.files["model.onnx"].sha256 == file_sha256(model / "model.onnx")
    assert after.metrics == before.metrics  # a re-export scores nothing
    assert list(after.files) == sorted(after.files)
