"""benchmarks/pretrain.py shares the BLURB study's base runs and scores cross-corpus sets through the runtime."""

import json
from pathlib import Path

import pytest
import yaml

from tests.benchmarks import BENCHMARKS
from tests.benchmarks import load_benchmark as load


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
    scores = pretrain.crosscorpus(tiny_model, "BC5-chem", "BioNLP13PC-chem", split="dev")  # found as the CLI does
    assert scores["sentences"] == 857 and scores["set"] == "BioNLP13PC-chem"
    assert 0 <= scores["strict_f1"] <= scores["lenient_f1"] <= 100
    assert pretrain.crosscorpus(tiny_model.parent / "absent", "BC5-chem", "BioNLP13PC-chem") is None


def test_no_data_folder_is_hard_coded_and_crosscorpus_reads_the_folder_given(tiny_model, tmp_path, monkeypatch):
    """--data-dir and --crosscorpus-dir default to None (resolved like the CLI's), and the folder
    given, or $BIOMEDSERVE_CROSSCORPUS, is the one read."""
    from benchmarks.crosscorpus import resolve_crosscorpus_dir
    from biomedserve.errors import DataNotFoundError

    pretrain = load("pretrain")
    assert "/work/" not in (BENCHMARKS / "pretrain.py").read_text()
    args = pretrain.build_parser().parse_args([])
    assert args.data_dir is None and args.crosscorpus_dir is None
    sentences = (resolve_crosscorpus_dir() / "BioNLP13PC-chem" / "dev.tsv").read_text().split("\n\n")
    (tmp_path / "BioNLP13PC-chem").mkdir()
    (tmp_path / "BioNLP13PC-chem" / "dev.tsv").write_text("\n\n".join(sentences[:5]) + "\n\n")
    scores = pretrain.crosscorpus(tiny_model, "BC5-chem", "BioNLP13PC-chem", split="dev", crosscorpus_dir=tmp_path)
    assert scores["sentences"] == 5
    monkeypatch.setenv("BIOMEDSERVE_CROSSCORPUS", str(tmp_path))
    assert pretrain.crosscorpus(tiny_model, "BC5-chem", "BioNLP13PC-chem", split="dev")["sentences"] == 5
    with pytest.raises(DataNotFoundError, match="absent"):
        pretrain.crosscorpus(tiny_model, "BC5-chem", "BioNLP13PC-chem", crosscorpus_dir=tmp_path / "absent")


def test_targets_say_met_missed_or_not_measured():
    pretrain = load("pretrain")
    summary = {"perplexity_before": 40.0, "perplexity_after": 12.0, "ner_test_mean_base": 78.0,
               "ner_test_mean_adapted": 78.9, "crosscorpus_mean_base": 50.0, "crosscorpus_mean_adapted": None}
    assert pretrain.targets(summary) == {"perplexity_falls": True, "ner_test_mean_at_least_base_plus_1": False,
                                         "crosscorpus_not_lower": None}


def test_the_corpus_holds_a_text_once_when_sets_share_it(tmp_path):
    pretrain = load("pretrain")
    files, counts = pretrain.build_corpus(tmp_path, None, [])
    # BC5-chem and BC5-disease are one set of sentences: the second adds none of them again
    assert counts["BC5-disease"]["texts"] == 0 and counts["BC5-disease"]["repeats_of_earlier_sets"] > 4000
    texts = [json.loads(line)["text"] for f in files for line in open(f)]
    assert len(texts) == len(set(texts))


def test_the_summary_reports_the_size_best_on_dev_and_sizes_keep_their_own_models():
    pretrain = load("pretrain")
    full = len(pretrain.NER_SETS)
    sizes = {"a": {"ner_dev_mean": 80.0, "ner_test_mean": 79.0, "sets_measured": full},
             "b": {"ner_dev_mean": 80.5, "ner_test_mean": 77.0, "sets_measured": full},
             "c": {"ner_dev_mean": 90.0, "ner_test_mean": 90.0, "sets_measured": full - 1}}  # unfinished
    assert pretrain.choose_size(sizes) == "b"  # dev decides, never test; an unfinished size is not chosen
    assert pretrain.choose_size({"c": sizes["c"]}) is None
    assert pretrain.size_suffix("minilm-blurb-adapted") == "minilm_adapted"  # the first run's kept models
    assert len({pretrain.size_suffix(name) for name in pretrain.SIZES}) == len(pretrain.SIZES)
    # every size is a valid PretrainConfig setting
    from biomedserve.training.pretraining import PretrainConfig

    for settings in pretrain.SIZES.values():
        PretrainConfig(corpus=["x"], out="y", **settings).check()


def test_a_fresh_clone_reports_the_recorded_crosscorpus_scores(tmp_path):
    """The score cache is ignored by git; without it the committed report's copy is read."""
    pretrain = load("pretrain")
    args = pretrain.build_parser().parse_args([])
    committed = tmp_path / "pretrain.json"
    committed.write_text(json.dumps({"crosscorpus_by_run": {"k:BioNLP13PC-chem": {"strict_f1": 40.0}}}))
    assert pretrain.Runs(args, tmp_path / "absent.partial.json", committed).cache == \
        {"k:BioNLP13PC-chem": {"strict_f1": 40.0}}
    (tmp_path / "p.partial.json").write_text("{}")
    assert pretrain.Runs(args, tmp_path / "p.partial.json", committed).cache == {}
