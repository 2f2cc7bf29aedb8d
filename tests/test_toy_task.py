"""A task type registered in one module (tests/toy_task.py) is trained, loaded, predicted from the
CLI and served over HTTP with no edit anywhere else."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests import toy_task


@pytest.fixture(scope="module")
def toy_model(tiny_base, tmp_path_factory):
    from biomedserve.training.finetune import TrainOptions, train
    from biomedserve.training.recipes import Recipe

    toy_task.register()
    try:
        data_dir = toy_task.write_data(tmp_path_factory.mktemp("toy-data"))
        out = tmp_path_factory.mktemp("toy-models") / "toy"
        recipe = Recipe(dataset=toy_task.DATASET, base_model=str(tiny_base), learning_rate=1e-3, max_steps=3,
                        batch_size=8, eval_batch_size=8, max_length=32, seed=3)
        train(recipe, out, TrainOptions(data_dir=data_dir, progress=False))
        yield out
    finally:
        toy_task.unregister()


def test_the_runtime_opens_it_with_its_own_predictor(toy_model):
    from biomedserve.runtime import Label, Predictor

    predictor = Predictor.from_dir(toy_model)
    assert type(predictor) is toy_task.ToyPredictor and predictor.meta.task == toy_task.NAME
    result = predictor.predict(("aspirin", "aspirin"))
    assert isinstance(result, Label) and set(result.probabilities) == set(toy_task.LABELS)
    assert "accuracy over toy pairs" in (toy_model / "README.md").read_text(encoding="utf-8")


def test_the_cli_reads_pairs_for_it(toy_model):
    from biomedserve.cli import app

    result = CliRunner().invoke(app, ["predict", str(toy_model), "--allow-collapsed", "aspirin\tnaloxone"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["text"] == "aspirin\tnaloxone" and line["label"] in toy_task.LABELS
    assert set(line["probabilities"]) == set(toy_task.LABELS)


def test_the_service_serves_it_where_text_pairs_get_a_label(toy_model):
    from fastapi.testclient import TestClient

    from biomedserve.modeldir.task_types import OutputKind, task_types_of
    from biomedserve.serving.app import create_app
    from biomedserve.serving.store import ModelStore

    app = create_app()
    app.state.store = ModelStore.load(str(toy_model), allow_collapsed=True)  # a few steps: on its floor
    with TestClient(app) as client:
        answer = client.post("/qa", json={"question": "aspirin", "context": "aspirin"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == "toy" and answer.json()["label"] in toy_task.LABELS
        refused = client.post("/ner", json={"texts": ["aspirin"]})
        # every task type returning entities is named (ner, pico and any registered since)
        entities = "/".join(task_types_of(output_kind=OutputKind.ENTITIES))
        assert entities.startswith("ner/pico")
        assert refused.status_code == 404 and f"no {entities} model is loaded" in refused.json()["error"]
