"""benchmarks/ner_multitype.py: the naive merge for spaCy, type mapping for cross-corpus scoring, the report."""


import pytest

from tests.benchmarks import load_benchmark


def load_module():
    return load_benchmark("ner_multitype")


def test_spacy_merge_keeps_one_entity_where_layers_overlap():
    from biomedserve.data.records import TypedLayersSentence
    from biomedserve.training.spacy_baseline import flatten_layers

    record = TypedLayersSentence(tokens=["BRCA1", "breast", "cancer", "and", "aspirin"],
                                 layers={"CHEMICAL": ["O", "O", "O", "O", "B"],
                                         "DISEASE": ["B", "I", "I", "O", "O"],
                                         "GENE": ["B", "O", "O", "O", "O"]}, corpus="toy")
    # the gene inside the disease name cannot join spaCy's single layer: the first placed stays
    assert flatten_layers(record) == ["B-DISEASE", "I-DISEASE", "I-DISEASE", "O", "B-CHEMICAL"]


def test_the_merged_training_data_reaches_spacy_with_every_type():
    import spacy

    from biomedserve.training.spacy_baseline import to_docbin

    docs = list(to_docbin("NER-multitype", "train", limit=400).get_docs(spacy.blank("en").vocab))
    assert {ent.label_ for doc in docs for ent in doc.ents} == {"CHEMICAL", "DISEASE", "GENE", "BIOENTITY"}


def test_a_model_type_is_scored_as_the_cross_corpus_sets_type(tiny_model):
    from benchmarks.crosscorpus import CROSS_CORPUS, load_crosscorpus, score_on_set
    from biomedserve.errors import BiomedserveError
    from biomedserve.runtime import Predictor

    predictor = Predictor.from_dir(tiny_model)
    sentences = load_crosscorpus("BioNLP13PC-ggp", "dev")[:40]
    target = CROSS_CORPUS["BioNLP13PC-ggp"]
    with pytest.raises(BiomedserveError, match="no GENE entities"):
        score_on_set(predictor, sentences, target)  # a chemical model has no GENE of its own
    scores = score_on_set(predictor, sentences, target, model_types={"GENE": "CHEMICAL"})
    assert 0 <= scores["strict"]["f1"] <= scores["lenient"]["f1"] <= 100


def test_summary_and_page_say_what_was_measured():
    bench = load_module()
    rows = {}
    for i, dataset in enumerate(bench.NER_SETS):
        rows[f"blurb:multitype-fp32:{dataset}"] = {"strict_f1": 80.0 + i, "lenient_f1": 90.0}
        rows[f"blurb:per-set:{dataset}"] = {"strict_f1": 81.0 + i, "lenient_f1": 90.0}
    rows["cross:multitype:GENE:BioNLP13PC-ggp:test"] = {"strict_f1": 60.0, "lenient_f1": 70.0}
    rows["cross:multitype:GENE:BioNLP13PC-ggp:dev"] = {"strict_f1": 61.0, "lenient_f1": 71.0}
    rows["cross:multitype:BIOENTITY:BioNLP13PC-ggp:dev"] = {"strict_f1": 51.0, "lenient_f1": 71.0}
    rows["speed:multitype"] = {"models": ["mt"], "variants": ["int8"], "docs_per_s": 10.0, "words_per_s": 2000.0,
                               "docs_per_s_incl_startup": 9.0}
    rows["speed:per_set"] = {"models": list("abcde"), "variants": ["int8"] * 5, "docs_per_s": 2.0,
                             "words_per_s": 400.0, "docs_per_s_incl_startup": 1.9}
    machine = {"cpu": "test CPU", "usable_cores": 2, "cpu_flags": "avx2"}
    summary = bench.summarize(rows, ["CHEMICAL", "DISEASE", "GENE", "BIOENTITY"], machine)
    assert summary["blurb_ner_mean_multitype"] == 82.0 and summary["blurb_ner_mean_per_set"] == 83.0
    assert summary["blurb_ner_mean_spacy_merged"] is None  # not measured is not zero
    assert summary["crosscorpus"]["BioNLP13PC-ggp"]["multitype"] == 60.0
    assert summary["crosscorpus"]["BioNLP13PC-chem"]["multitype"] is None
    assert summary["docs_per_s_multitype"] == 10.0 and "avx2" in summary["hardware"]
    page = bench.markdown({"summary": summary, "rows": rows, "when": "now"})
    assert "**5.00×**" in page and "| BC2GM | 83.00 / 90.00 | – | 84.00 / 90.00 | – |" in page


def test_throughput_runs_a_real_annotate_job(tiny_model, tiny_two_type_model, tmp_path):
    bench = load_module()
    from benchmarks.annotate import corpus, words, write_jsonl

    docs = corpus(12, seed=0)
    jsonl = write_jsonl(docs, tmp_path / "corpus.jsonl")
    row = bench.annotate_speed([tiny_model, tiny_two_type_model], jsonl, tmp_path / "out", sum(map(words, docs)))
    assert row["documents"] == 12 and row["docs_per_s"] > 0 and row["words_per_s"] > row["docs_per_s"]
    assert len(row["models"]) == len(row["variants"]) == 2
    assert (tmp_path / "out").exists()  # the job wrote its output


def test_an_attempt_is_chosen_on_dev_and_set_beside_the_main_model():
    bench = load_module()
    rows = {}
    for i, dataset in enumerate(bench.NER_SETS):
        rows[f"blurb:multitype-adapted-fp32:{dataset}"] = {"strict_f1": 70.0 + i, "lenient_f1": 80.0}
    for label in ("multitype", "multitype-adapted"):
        for t, dev in (("GENE", 60.0), ("BIOENTITY", 55.0)):
            bump = 2.0 if label == "multitype-adapted" else 0.0
            rows[f"cross:{label}:{t}:BioNLP13PC-ggp:dev"] = {"strict_f1": dev + bump}
            rows[f"cross:{label}:{t}:BioNLP13PC-ggp:test"] = {"strict_f1": 50.0 + bump}
    attempt = bench.attempts(rows)["adapted"]
    assert attempt["blurb_ner_mean"] == 72.0
    assert attempt["crosscorpus"] == {"BioNLP13PC-ggp": {"type": "GENE", "dev": 62.0, "test": 52.0,
                                                         "dev_delta_vs_multitype": 2.0}}
    assert bench.attempts({}) == {}  # not run is not a row of zeros


def test_unlabeled_text_is_checked_against_every_evaluation_set(tmp_path):
    from benchmarks.crosscorpus import load_crosscorpus

    bench = load_module()
    held_out = " ".join(load_crosscorpus("BioNLP13PC-ggp", "test")[3].tokens)
    text = tmp_path / "text.jsonl"
    text.write_text(f'{{"id": "1", "text": "{held_out}"}}\n'
                    '{"id": "2", "text": "Nothing here comes from any of the evaluation sets at all."}\n')
    check = bench.text_leakage([str(text)], None, None)
    assert check["sentences"] == 2 and check["in_evaluation_sets"] == 1
    assert check["evaluation_files"] == 2 * len(bench.CROSS) + 2 * len(bench.NER_SETS)


def test_partial_rows_of_two_jobs_are_merged_not_overwritten(tmp_path):
    bench = load_module()
    first, second = bench.Partial(tmp_path / "p.json"), bench.Partial(tmp_path / "p.json")
    first.put("a", {"x": 1})
    second.put("b", {"x": 2})
    first.put("c", {"x": 3})
    assert set(bench.Partial(tmp_path / "p.json").rows) == {"a", "b", "c"}


def test_the_served_model_is_chosen_on_dev_over_both_sets_and_reported_against_the_targets():
    bench = load_module()
    rows = {}

    def cross(system, name, model_type, dev, test):
        rows[f"cross:{system}:{model_type}:{name}:dev"] = {"strict_f1": dev}
        rows[f"cross:{system}:{model_type}:{name}:test"] = {"strict_f1": test}

    for system, chem_dev, ggp_dev in (("multitype", 50.0, 60.0), ("multitype-selftrain", 53.0, 58.0)):
        cross(system, "BioNLP13PC-chem", "CHEMICAL", chem_dev, chem_dev - 10)
        cross(system, "BioNLP13PC-ggp", "GENE", ggp_dev, 99.0 if system == "multitype" else ggp_dev)
        cross(system, "BioNLP13PC-ggp", "BIOENTITY", 10.0, 10.0)
    # an attempt measured on one set only cannot be chosen, however good
    cross("multitype-adapted", "BioNLP13PC-chem", "CHEMICAL", 90.0, 90.0)
    served, means = bench.served_system(rows)
    assert served == "multitype-selftrain" and means == {"multitype": 55.0, "multitype-selftrain": 55.5}
    assert bench.served_system({})[0] == "multitype"  # nothing to choose on: the standard model
    cross("per-set", "BioNLP13PC-chem", "BC5-chem", 45.0, 40.0)
    cross("per-set", "BioNLP13PC-ggp", "BC2GM", 55.0, 47.0)
    cross("per-set", "BioNLP13PC-ggp", "JNLPBA", 50.0, 90.0)  # better on test, worse on dev: not chosen
    summary = bench.summarize(rows, [], {"cpu": "x", "usable_cores": 1})
    # the served model's test figures, never the better test of another model (99.0)
    assert summary["crosscorpus"]["BioNLP13PC-ggp"]["multitype"] == 58.0
    assert summary["standard_recipe"]["crosscorpus"]["BioNLP13PC-ggp"]["test"] == 99.0
    met = {what: (value, needed) for what, value, needed in bench.targets(summary)}
    assert met["BioNLP13PC-chem test strict F1 ≥ best per-set model + 5"] == (43.0, 45.0)
    assert met["BioNLP13PC-ggp test strict F1 ≥ best per-set model + 5"] == (58.0, 52.0)


def test_a_row_is_measured_again_when_its_model_changed(tmp_path):
    bench = load_module()
    model = tmp_path / "pipeline"
    model.mkdir()
    (model / "weights").write_bytes(b"first")
    calls = []

    def measure(value):
        calls.append(value)
        return {"strict_f1": value}

    partial = bench.Partial(tmp_path / "rows.json")
    assert partial.get("row", measure, (1.0,), [(model, None)])["strict_f1"] == 1.0
    assert partial.get("row", measure, (2.0,), [(model, None)])["strict_f1"] == 1.0  # same model: kept
    (model / "weights").write_bytes(b"retrained")
    assert partial.get("row", measure, (3.0,), [(model, None)])["strict_f1"] == 3.0  # changed: measured again
    assert calls == [1.0, 3.0]
    # a resumed run reads the rows, with the fingerprint they were measured under, from disk
    assert bench.Partial(tmp_path / "rows.json").get("row", measure, (4.0,), [(model, None)])["strict_f1"] == 3.0


def test_a_model_directory_is_fingerprinted_by_its_cards_checksums(tiny_model):
    from biomedserve.modeldir.card import read_meta

    bench = load_module()
    assert bench.fingerprint(tiny_model, "fp32") == read_meta(tiny_model).files["model.onnx"].sha256
    assert bench.fingerprint(tiny_model) != bench.fingerprint(tiny_model, "fp32")  # every file, not one graph
