"""benchmarks/pretrain.py shares the BLURB study's base runs and scores cross-corpus sets through the runtime."""

import importlib.util
import sys
from pathlib import Path

import yaml

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
CROSSCORPUS = Path("/work/shared/crosscorpus")


def load(name: str):
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_base_runs_have_the_blurb_study_keys_and_kept_model_paths():
    pretrain, blurb = load("pretrain"), load("blurb")
    plan = yaml.safe_load((BENCHMARKS / "blurb_plan.yaml").read_text())
    study = {(run.recipe.dataset, run.variant, run.recipe.seed): run for _, run in blurb.plan_runs(plan, ["main"], None)}
    for dataset in pretrain.NER_SETS:
        ours = pretrain.ner_run(dataset, "default")
        theirs = study[(dataset, "standard", 1)]
        assert ours.key == theirs.key, dataset
        assert blurb.keep_path(plan, theirs, Path("models")) == Path("models") / f"{dataset.lower()}-minilm"
    assert plan["encoder_label"] == pretrain.BASE_LABEL


def test_corpus_texts_never_come_from_relation_sets_and_crosscorpus_scores(tiny_model):
    pretrain = load("pretrain")
    assert not {"ChemProt", "DDI", "GAD"} & set(pretrain.text_sets())
    scores = pretrain.crosscorpus(tiny_model, "BC5-chem", CROSSCORPUS / "BioNLP13PC-chem", split="dev")
    assert scores["sentences"] == 857 and scores["set"] == "BioNLP13PC-chem"
    assert 0 <= scores["strict_f1"] <= scores["lenient_f1"] <= 100
    assert pretrain.crosscorpus(tiny_model.parent / "absent", "BC5-chem", CROSSCORPUS / "BioNLP13PC-chem") is None
