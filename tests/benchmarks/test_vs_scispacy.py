"""benchmarks/vs_scispacy.py: the scoring glue and the report, on hand-made rows and Docs.

The benchmark's numbers go into an issue's acceptance check, so the parts that turn pipelines'
output into F1 and tables are tested here rather than trusted.
"""

import json

import spacy

from tests.benchmarks import load_benchmark


def load_module():
    return load_benchmark("vs_scispacy")


vs = load_module()


def test_doc_tags_map_entities_onto_corpus_tokens_by_characters():
    tokens = ["Na", "+", "/", "K", "+", "-", "ATPase", "and", "ouabain", "."]
    text = " ".join(tokens)
    offsets, pos = [], 0
    for token in tokens:
        offsets.append((pos, pos + len(token)))
        pos += len(token) + 1
    doc = spacy.blank("en")(text)
    start = text.index("K")
    doc.ents = [doc.char_span(0, start + 3, label="CHEM", alignment_mode="expand"),
                doc.char_span(text.index("ouabain"), text.index("ouabain") + 7, label="DRUG")]
    tags = vs.doc_tags(doc, offsets, keep={"CHEMICAL"}, mapping={"CHEM": "CHEMICAL"})
    assert tags == ["B-CHEMICAL", "I-CHEMICAL", "I-CHEMICAL", "I-CHEMICAL", "I-CHEMICAL",
                    "O", "O", "O", "O", "O"]  # DRUG is not a kept type


def rows():
    make = lambda d, s, strict, lenient, wps, words: {  # noqa: E731
        "dataset": d, "system": s, "strict_f1": strict, "lenient_f1": lenient, "words_per_s": wps, "words": words, "model": "models/x"}
    return [make("BC5-chem", vs.OURS_INT8, 90.0, 95.0, 1000.0, 1000), make("BC5-chem", vs.BASELINE, 80.0, 85.0, 4000.0, 1000),
            make("NCBI-disease", vs.OURS_INT8, 70.0, 80.0, 500.0, 1000), make("NCBI-disease", vs.BASELINE, 70.0, 75.0, 2000.0, 1000),
            make("BC5CDR", vs.OURS_INT8, 10.0, 10.0, 1.0, 1000)]


def test_summary_averages_blurb_sets_and_pools_speed():
    s = vs.summarize(rows())
    assert s["datasets"] == ["BC5-chem", "NCBI-disease"] and not s["complete"]  # BC5CDR is beside the mean
    assert s["strict_f1_mean_ours_int8"] == 80.0 and s["strict_f1_mean_baseline"] == 75.0
    assert s["lenient_f1_mean_ours_int8"] == 87.5 and s["lenient_f1_mean_baseline"] == 80.0
    assert s["words_per_s_ours_int8"] == round(2000 / 3.0, 1)  # 2000 words in 1 s + 2 s, not the mean of rates
    assert s["words_per_s_baseline"] == 2666.7


def test_report_has_the_papers_table_shapes():
    report = {"rows": rows(), "summary": vs.summarize(rows()), "when": "now", "command": "python -m benchmarks.vs_scispacy",
              "machine": {"cpu": "test CPU", "usable_cores": 2}}
    md = vs.render(report)
    strict = md.split("## Strict")[1].split("##")[0]
    assert f"| dataset | {vs.OURS_INT8} | {vs.BASELINE} | paper: scispaCy | paper: PubMedBERT |" in strict
    assert "| BC5-chem | 90.0 | 80.0 | 86.49 | 93.33 |" in strict
    assert "| BC5CDR | 10.0 | – | – | – |" in strict
    lenient = md.split("## Lenient")[1].split("##")[0]
    assert "| NCBI-disease | 80.0 | 75.0 | 74.64 | 95.22 |" in lenient
    assert "Not all five BLURB NER sets were measured." in md
    assert "- BC5-chem, spaCy-recipe baseline (CNN + transition NER): `models/x`" in md
    assert "Every row was measured in this run." in md
    carried = vs.render({**report, "carried_over": ["2026-01-01T00:00:00+00:00"]})
    assert "Rows carried over from earlier runs started at 2026-01-01T00:00:00+00:00." in carried


def test_an_interrupted_run_is_resumed_only_for_the_same_model_and_limit(tmp_path):
    partial = tmp_path / "partial.json"
    assert vs.reusable_rows(partial, None) == {}
    old = [{**rows()[0], "model": "models/a (int8; 3 epochs, dev F1 80.0)", "limit": None},
           {**rows()[1], "limit": 500}]
    partial.write_text(json.dumps(old))
    kept = vs.reusable_rows(partial, None)
    assert list(kept) == [("BC5-chem", vs.OURS_INT8, "models/a (int8; 3 epochs, dev F1 80.0)")]
    # a model retrained with another dev F1 is another key: it is measured again, not served the old row
    assert ("BC5-chem", vs.OURS_INT8, "models/a (int8; 5 epochs, dev F1 82.0)") not in kept
    assert list(vs.reusable_rows(partial, 500)) == [("BC5-chem", vs.BASELINE, "models/x")]


def test_a_model_trained_otherwise_than_the_recipe_is_named_not_used(tiny_model, tmp_path):
    # the tiny model ran 120 steps at lr 5e-3: not train/BC5-chem/standard.yaml
    why = vs.trained_as(tiny_model, "BC5-chem", "standard")
    assert why and "learning_rate" in why and "max_steps" in why and "standard.yaml" in why
    assert vs.trained_as(tmp_path / "nothing", "BC5-chem", "standard") == "missing"
