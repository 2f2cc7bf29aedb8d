"""Every BLURB task type trains, exports, evaluates and predicts through the one path.

A tiny random BERT and a few real examples per dataset: what is checked is the plumbing (heads,
features, metrics, ONNX export, runtime decoding), not accuracy.
"""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoTokenizer

from biomedserve.export.evaluation import evaluate_model
from biomedserve.runtime import Predictor
from biomedserve.text.encoding import encode_pair

CASES = ["EBM-PICO", "ChemProt", "DDI", "GAD", "BIOSSES", "HoC", "PubMedQA", "BioASQ"]


@pytest.fixture(scope="module")
def trained(tiny_task_model):
    return tiny_task_model


@pytest.mark.parametrize("dataset", CASES)
def test_train_export_evaluate(trained, dataset):
    out, data_dir = trained(dataset)
    predictor = Predictor.from_dir(out)
    result = evaluate_model(out, split="test", data_dir=data_dir, limit=12, predictor=predictor)
    assert 0.0 <= result.score <= 100.0 or (dataset == "BIOSSES" and -100.0 <= result.score <= 100.0)
    assert result.n == 12
    # the torch backend scores the same (parity of the exported graph for every head)
    torch_result = evaluate_model(out, split="test", backend="torch", data_dir=data_dir, limit=12)
    assert torch_result.score == pytest.approx(result.score, abs=0.05)


def test_relation_predictions(trained):
    out, _ = trained("ChemProt")
    [result] = Predictor.from_dir(out).predict(["@CHEMICAL$ inhibits @GENE$ in rat liver."])
    assert result.label in result.probabilities
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert set(result.probabilities) == {"CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9", "false"}


def test_qa_takes_question_context_pairs(trained):
    out, _ = trained("PubMedQA")
    predictor = Predictor.from_dir(out)
    assert predictor.single_segment
    # the recipe's truncation_side travels with the tokenizer: a context too long loses its start, not its end
    question, context = "Does aspirin help?", " ".join(f"w{i}" for i in range(200)) + " final"
    ids = encode_pair(predictor.tokenizer, question, context, predictor.tokenizer.max_length, True)["input_ids"]
    text = AutoTokenizer.from_pretrained(str(out)).decode(ids)
    assert len(ids) == predictor.tokenizer.max_length
    assert text.startswith("[CLS] does aspirin help? [SEP]") and text.endswith("final [SEP]") and "w0 " not in text
    results = predictor.predict([("Does aspirin help?", "Aspirin reduced pain in 80% of patients."),
                                 ("Is it safe?", "")])
    assert [set(r.probabilities) for r in results] == [{"yes", "no", "maybe"}] * 2


def test_similarity_scores_are_on_the_0_4_scale(trained):
    out, _ = trained("BIOSSES")
    scores = Predictor.from_dir(out).predict([("a b c", "a b c"), ("Cells grow.", "Mice sleep.")])
    assert len(scores) == 2 and all(0.0 <= s.score <= 4.0 for s in scores)


def test_hoc_abstract_probabilities_are_the_max_over_sentences(trained):
    out, _ = trained("HoC")
    predictor = Predictor.from_dir(out)
    sentences = ["Tumour cells evade apoptosis.", "Angiogenesis was induced by VEGF."]
    doc = predictor.predict_documents([sentences])[0]
    each = predictor.predict_documents([[s] for s in sentences])
    np.testing.assert_allclose(doc, each.max(axis=0), atol=1e-6)
    result = predictor.predict(" ".join(sentences))
    assert len(result.probabilities) == 10
    assert all(result.probabilities[label] >= 0.5 for label in result.labels)
    assert predictor.predict_documents([[]]).tolist() == [[0.0] * 10]


def test_pico_entities_use_io_spans(trained):
    out, data_dir = trained("EBM-PICO")
    predictor = Predictor.from_dir(out)
    assert predictor.io_scheme
    text = "Xylitol chewing gum for the prevention of acute otitis media in children."
    for entity in predictor.predict(text):
        assert text[entity.start:entity.end] == entity.text
        assert entity.label in {"PAR", "INT", "OUT"}


@pytest.mark.parametrize("dataset, one, keys", [
    ("ChemProt", "@CHEMICAL$ inhibits @GENE$.", {"label", "probabilities"}),
    ("PubMedQA", ("Does it help?", "It helped."), {"label", "probabilities"}),
    ("BIOSSES", ("Cells grow.", "Cells divide."), {"score"}),
    ("HoC", "Tumour cells evade apoptosis. VEGF induced angiogenesis.", {"labels", "probabilities"}),
    ("EBM-PICO", "Aspirin for children with otitis media.", {"entities"}),
])
def test_one_input_gives_one_result_a_list_gives_a_list(trained, dataset, one, keys):
    predictor = Predictor.from_dir(trained(dataset)[0])
    single = predictor.predict(one)
    assert predictor.predict([one, one]) == [single, single]
    assert set(single.to_dict()) == keys  # the JSON of one result, as the CLI and the service print it
