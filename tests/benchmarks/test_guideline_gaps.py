"""benchmarks/guideline_gaps.py: residues told from other chemicals; gene errors split by kind."""

from tests.benchmarks import load_benchmark


def load_module():
    return load_benchmark("guideline_gaps")


def test_residues_are_told_from_other_chemicals():
    gaps = load_module()
    for text in ("tyrosine", "Ser ( 183 )", "Thr700", "Y88", "serine 20", "Lys - 56", "L - threonine"):
        assert gaps.is_residue(text), text
    for text in ("LPS", "NO", "Na +", "rapamycin", "PC", "beta - alanine", "ATP"):
        assert not gaps.is_residue(text), text


def test_residue_recall_counts_each_gold_chemical_once(tiny_model):
    from benchmarks.crosscorpus import CROSS_CORPUS, load_crosscorpus

    gaps = load_module()
    sentences = load_crosscorpus("BioNLP13PC-chem", "dev")[:300]
    row = gaps.residue_recall(tiny_model, sentences, CROSS_CORPUS["BioNLP13PC-chem"], "CHEMICAL")
    entities = sum(t.startswith("B") for s in sentences for t in s.tags)
    assert row["gold_entities"] == entities > row["residue_entities"] > 0
    assert 0 <= row["residue_recall"] <= 100 and 0 <= row["other_recall"] <= 100


def test_descriptor_words_are_trimmed_from_the_edges_only():
    gaps = load_module()
    tokens = "the human SMVT gene and Cdc28 protein kinase and gene".split()
    assert gaps.trim_descriptors(tokens, 1, 3) == (2, 2)  # human SMVT gene -> SMVT
    assert gaps.trim_descriptors(tokens, 5, 7) == (5, 7)  # a descriptor inside a name stays
    assert gaps.trim_descriptors(tokens, 9, 9) is None  # nothing but a descriptor: no entity left
    hyphenated = "wild - type p53 - protein".split()
    assert gaps.trim_descriptors(hyphenated, 3, 5) == (3, 3)


def test_gene_errors_count_every_prediction_once_and_score_as_the_benchmark(tiny_model):
    from benchmarks.crosscorpus import CROSS_CORPUS, load_crosscorpus, score_on_set
    from biomedserve.runtime import Predictor

    gaps = load_module()
    spec = CROSS_CORPUS["BioNLP13PC-ggp"]
    sentences = load_crosscorpus("BioNLP13PC-ggp", "dev")[:200]
    row = gaps.gene_errors(tiny_model, sentences, spec, "CHEMICAL")
    kinds = row["false_positives"]
    assert row["gold_entities"] == sum(t.startswith("B") for s in sentences for t in s.tags)
    assert row["predicted"] > 0
    assert kinds["longer_by_descriptors"] <= kinds["longer"]
    assert (row["true_positives"] + kinds["no_overlap"] + kinds["longer"] + kinds["shorter"] + kinds["other"]
            == row["predicted"])
    expected = score_on_set(Predictor.from_dir(tiny_model), sentences, spec, model_types={spec.entity_type: "CHEMICAL"})
    assert abs(row["strict_f1"] - expected["strict"]["f1"]) < 0.01
