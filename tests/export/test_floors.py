"""The trivial floor in the card, the collapsed verdict, and the front-ends that refuse a collapsed model."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from biomedserve.cli import app
from biomedserve.errors import CollapsedModelError
from biomedserve.export.floors import MajorityAnswer
from biomedserve.modeldir.card import read_meta, write_meta

runner = CliRunner()


def test_the_majority_answer_scores_what_always_yes_scores(tiny_task_model):
    from biomedserve.data.registry import get_dataset
    from biomedserve.tasks import get_task

    model, _ = tiny_task_model("PubMedQA")
    spec, meta = get_dataset("PubMedQA"), read_meta(model)
    trivial = MajorityAnswer(meta, spec.load("train"))
    assert trivial.label == "yes" and trivial.describe() == "always 'yes'"
    dev = spec.load("dev")
    expected = 100 * sum(r.label == "yes" for r in dev) / len(dev)
    assert get_task("qa").evaluate(trivial, dev, spec)["accuracy"] == pytest.approx(expected)


def test_every_trained_card_records_its_floor(tiny_model, tiny_task_model):
    ner = read_meta(tiny_model)
    assert ner.floor["answer"] == "no entity" and ner.floor["dev"] == 0.0 and not ner.collapsed  # F1 > 1 above 0
    qa = read_meta(tiny_task_model("PubMedQA")[0])
    assert qa.floor["answer"] == "always 'yes'" and {"dev", "test", "dev_one_class_share"} <= set(qa.floor)
    if qa.collapsed:
        assert "floor" in qa.collapse_reason or "one class" in qa.collapse_reason


@pytest.fixture()
def collapsed(tiny_model, tmp_path):
    """A copy of the NER model whose card says what a collapsed QA model's would."""
    copy = tmp_path / "collapsed"
    shutil.copytree(tiny_model, copy)
    meta = read_meta(copy)
    meta.floor = {"answer": "always 'yes'", "metric": "accuracy", "dev": 55.2, "test": 55.2}
    meta.collapsed, meta.collapse_reason = True, "dev accuracy 55.20 is within 1.0 of the floor 55.20 (always 'yes')"
    write_meta(copy, meta)
    return copy


def test_predict_and_serve_refuse_a_collapsed_model_naming_the_floor_and_the_score(collapsed):
    for command in (["predict", str(collapsed), "text"], ["serve", "--models", str(collapsed)]):
        result = runner.invoke(app, command, terminal_width=300)
        assert result.exit_code != 0, result.output
        output = " ".join(result.output.split())
        assert "refused, the model is collapsed" in output and "55.2" in output and "always 'yes'" in output
        assert "--allow-collapsed" in output
    result = runner.invoke(app, ["predict", str(collapsed), "--allow-collapsed", "Naloxone reversed it."])
    assert result.exit_code == 0, result.output
    assert "entities" in json.loads(result.output.strip().splitlines()[-1])
    assert "**Collapsed**" in (collapsed / "README.md").read_text()


def test_the_spacy_component_and_annotate_refuse_it_too(collapsed, tmp_path):
    import spacy

    from biomedserve.annotate import annotate

    with pytest.raises(CollapsedModelError, match="refused, the model is collapsed"):
        spacy.blank("en").add_pipe("biomedserve_ner", config={"model": str(collapsed)})
    spacy.blank("en").add_pipe("biomedserve_ner", config={"model": str(collapsed), "allow_collapsed": True})
    docs = tmp_path / "d.jsonl"
    docs.write_text(json.dumps({"id": "1", "text": "Naloxone reversed it."}) + "\n")
    with pytest.raises(CollapsedModelError, match="55.2"):
        annotate([str(docs)], [str(collapsed)], tmp_path / "o.jsonl", progress=False)
    annotate([str(docs)], [str(collapsed)], tmp_path / "o.jsonl", progress=False, allow_collapsed=True)


def test_the_model_listing_shows_the_flag(collapsed):
    from biomedserve.serving.store import ModelStore

    with pytest.raises(CollapsedModelError):
        ModelStore.load(str(collapsed))
    store = ModelStore.load(str(collapsed), allow_collapsed=True)
    assert store.by_name[read_meta(collapsed).name].predictor.meta.collapsed
