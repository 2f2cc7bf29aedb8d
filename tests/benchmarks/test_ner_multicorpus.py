"""benchmarks/ner_multicorpus.py: heads per corpus, the pseudo-documents, abbreviation scoring, the summary."""

from __future__ import annotations

from biomedserve.data.records import TaggedSentence
from tests.benchmarks import load_benchmark

mc = load_benchmark("ner_multicorpus")
mt = load_benchmark("ner_multitype")


def test_each_corpus_is_scored_on_the_head_of_its_guideline_and_ten_corpora_train():
    assert mc.own_head("BC2GM") == "GENE@BC2GM" and mc.own_head("BioNLP13GE") == "GENE@BioNLP"
    assert mc.own_head("linnaeus") == "SPECIES" and mc.own_head("BC5-chem") == "CHEMICAL"
    assert mc.training_corpora() == ["BC5-chem", "BC5-disease", "NCBI-disease", "BC2GM", "JNLPBA", "BioNLP09",
                                     "BioNLP11EPI", "BioNLP13GE", "Ex-PTM", "linnaeus"]


def test_documents_keep_every_tokens_offsets():
    sentences = [TaggedSentence(["The", "androgen", "receptor", "(", "AR", ")"], ["O"] * 6),
                 TaggedSentence(["AR", "binds", "."], ["O"] * 3)] * 7
    docs = mc.documents(sentences, size=10)
    assert len(docs) == 2 and [len(spans) for _, spans in docs] == [10, 4]
    for (text, spans), group in zip(docs, (sentences[:10], sentences[10:])):
        for sentence, own in zip(group, spans):
            assert [text[s:e] for s, e in own] == sentence.tokens


def test_abbreviation_scoring_off_is_the_plain_score(tiny_multicorpus_model):
    from benchmarks.crosscorpus import score_on_set
    from biomedserve.data.registry import get_dataset
    from biomedserve.runtime import Predictor

    spec = get_dataset("BioNLP09")
    sentences = spec.load("dev")[:80]
    effect = mc.abbreviation_effect(tiny_multicorpus_model, sentences, spec, "GENE@BioNLP")
    plain = score_on_set(Predictor.from_dir(tiny_multicorpus_model, variant="fp32"), sentences, spec,
                         model_types={"GENE": "GENE@BioNLP"})
    assert effect["off_strict_f1"] == round(plain["strict"]["f1"], 2)
    assert abs(effect["delta_strict"] - (effect["on_strict_f1"] - effect["off_strict_f1"])) <= 0.011
    assert effect["sentences"] == 80 and effect["doc_sentences"] == mc.DOC_SENTENCES


def _row(f1: float) -> dict:
    return {"strict_f1": f1, "lenient_f1": f1 + 5}


def test_the_summary_chooses_heads_and_abbreviations_on_dev():
    rows = {"card:multicorpus": {}}
    for head, dev, test in (("GENE@BC2GM", 60.0, 65.0), ("GENE@BioNLP", 70.0, 76.0), ("BIOENTITY", 50.0, 90.0)):
        rows[f"cross:multicorpus:{head}:BioNLP13PC-ggp:dev"] = _row(dev)
        rows[f"cross:multicorpus:{head}:BioNLP13PC-ggp:test"] = _row(test)
    rows["cross:multicorpus:CHEMICAL:BioNLP13PC-chem:dev"] = _row(50.0)
    rows["cross:multicorpus:CHEMICAL:BioNLP13PC-chem:test"] = _row(55.0)
    rows["corpus:multicorpus:SPECIES:linnaeus:test"] = _row(86.0)
    assert mc.abbreviations_help(rows) is None  # unmeasured: no choice yet
    for name, delta in (("BioNLP13PC-chem", 0.4), ("BioNLP13PC-ggp", -0.1)):
        rows[f"abbrev:multicorpus:{name}:dev"] = {"off_strict_f1": 50.0, "on_strict_f1": 50.0 + delta,
                                                  "delta_strict": delta}
    facts = mc.summary(rows, mt.best_on_dev)
    assert facts["crosscorpus"]["BioNLP13PC-ggp"] == {"head": "GENE@BioNLP", "dev": 70.0, "test": 76.0}  # not test's best
    assert facts["default_guidelines"] == {"GENE": "BioNLP"} and facts["species_test_f1"] == 86.0
    assert facts["abbreviation_resolution"] is True  # mean dev delta +0.15
    assert len(facts["training_corpora"]) == 10
    page = "\n".join(mc.markdown(rows, facts))
    assert "GENE@BioNLP (chosen)" in page and "| BioNLP13PC-ggp:dev | 50.00 | 49.90 | -0.10 |" in page
    assert mc.summary({}, mt.best_on_dev) is None and mc.markdown({}, None) == []


def test_of_two_ten_corpus_models_the_summary_takes_the_one_better_on_dev():
    """Each ten-corpus model (one epoch, three) keeps its own rows; the summary's facts are those of the
    model with the better mean cross-corpus dev strict F1, whatever test says."""
    rows = {}
    for system, chem_dev, gene_dev, chem_test in (("multicorpus", 50.0, 70.0, 60.0),
                                                   ("multicorpus-3ep", 55.0, 71.0, 40.0)):
        rows[f"card:{system}"] = {}
        for head in mc.CROSS_HEADS["BioNLP13PC-ggp"]:
            rows[f"cross:{system}:{head}:BioNLP13PC-ggp:dev"] = _row(gene_dev if head == "GENE@BioNLP" else 10.0)
            rows[f"cross:{system}:{head}:BioNLP13PC-ggp:test"] = _row(70.0)
        rows[f"cross:{system}:CHEMICAL:BioNLP13PC-chem:dev"] = _row(chem_dev)
        rows[f"cross:{system}:CHEMICAL:BioNLP13PC-chem:test"] = _row(chem_test)
    served, means = mt.served_system(rows)
    assert means == {"multicorpus": 60.0, "multicorpus-3ep": 63.0} and served == "multicorpus-3ep"
    assert mt.ten_corpus_choice(means) == "multicorpus-3ep"
    assert mt.ten_corpus_choice({"multitype": 99.0}) == "multicorpus"  # none measured: the committed recipe's
    assert mc.summary(rows, mt.best_on_dev, "multicorpus-3ep")["crosscorpus"]["BioNLP13PC-chem"]["test"] == 40.0
    assert "three epochs" in mt.recipe_change("multicorpus-3ep")
    page = "\n".join(mc.markdown(rows, mc.summary(rows, mt.best_on_dev, "multicorpus-3ep"), "multicorpus-3ep"))
    assert "## Ten corpora, three epochs" in page and "(system `multicorpus-3ep`)" in page


def test_the_species_lexicon_is_served_only_if_dev_says_and_then_its_test_score_is_reported():
    rows = {"card:multicorpus": {}, "corpus:multicorpus:SPECIES:linnaeus:test": _row(67.0)}

    def lexicon(dev_delta: float) -> None:
        for split, off, delta in (("dev", 70.0, dev_delta), ("test", 67.0, 7.0)):
            rows[f"lexicon:multicorpus:linnaeus:{split}"] = {"off_strict_f1": off, "on_strict_f1": off + delta,
                                                             "delta_strict": delta, "lexicon_entities": 5}

    assert mc.lexicon_helps(rows) is None and mc.summary(rows, mt.best_on_dev)["species_test_f1"] == 67.0
    lexicon(-0.5)  # dev says no: the tagger's own test score, however test would have moved
    facts = mc.summary(rows, mt.best_on_dev)
    assert facts["species_lexicon"] is False and facts["species_test_f1"] == 67.0
    lexicon(+15.0)
    facts = mc.summary(rows, mt.best_on_dev)
    assert facts["species_lexicon"] is True and facts["species_test_f1"] == 74.0
    assert facts["species_test_f1_tagger_alone"] == 67.0
    assert "| linnaeus:dev | 70.00 | 85.00 | +15.00 | 5 |" in "\n".join(mc.markdown(rows, facts))
