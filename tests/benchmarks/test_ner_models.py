"""The per-set NER models the multi-type and pretraining benchmarks share with the BLURB study."""

import json

from biomedserve.training.recipes import Recipe
from biomedserve.training.sweep import RunSpec, run_path
from tests.benchmarks import load_benchmark


def test_a_finished_run_whose_model_is_missing_is_trained_again_into_the_kept_path(tiny_base, tmp_path):
    ner_models = load_benchmark("ner_models")
    run = RunSpec("standard", Recipe(dataset="NCBI-disease", base_model=str(tiny_base), max_steps=2, batch_size=8,
                                     max_length=32, seed=1))
    runs_dir, keep = tmp_path / "runs", tmp_path / "models" / "ncbi-disease-tiny"
    first = ner_models.kept_run(run, runs_dir, keep, None)  # nothing here: trained once, model kept
    assert ner_models.has_model(keep) and "retrained" not in first
    recorded = json.loads(run_path(runs_dir, run).read_text())

    for path in keep.iterdir():  # a fresh clone: the result is committed, the model is not
        path.unlink() if path.is_file() else None
    assert not ner_models.has_model(keep)
    again = ner_models.kept_run(run, runs_dir, keep, None)
    assert ner_models.has_model(keep)
    assert again["retrained"]["test"] == recorded["test"] and again["retrained"]["dev"] == recorded["dev"]
    assert json.loads(run_path(runs_dir, run).read_text()) == recorded  # the record is left as it was
    assert "retrained" not in ner_models.kept_run(run, runs_dir, keep, None)  # now nothing to do
