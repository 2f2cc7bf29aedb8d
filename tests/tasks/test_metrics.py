"""Each BLURB metric on hand-computed cases."""

import numpy as np
import pytest

from biomedserve.tasks.classification import accuracy, multilabel_micro_f1, pearson, positive_micro_f1
from biomedserve.tasks.pico import token_macro_f1
from biomedserve.text.decoding import io_tags_to_spans
from biomedserve.training.blurb import blurb_score

CHEMPROT = ["CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9", "false"]


def test_relation_micro_f1_ignores_the_negative_class():
    gold = ["CPR:3", "CPR:4", "false", "false", "CPR:9"]
    pred = ["CPR:3", "false", "CPR:4", "false", "CPR:9"]
    # predicted positives: CPR:3, CPR:4 (wrong), CPR:9 → P = 2/3; gold positives 3, found 2 → R = 2/3
    assert positive_micro_f1(gold, pred, CHEMPROT, "false") == pytest.approx(100 * 2 / 3)
    # a correct "false" earns nothing
    assert positive_micro_f1(["false"], ["false"], CHEMPROT, "false") == 0.0


def test_gad_is_binary_f1_of_class_1():
    gold = ["1", "1", "0", "0", "1"]
    pred = ["1", "0", "1", "0", "1"]
    # tp 2, fp 1, fn 1 → F1 = 2/3
    assert positive_micro_f1(gold, pred, ["0", "1"], "0") == pytest.approx(100 * 2 / 3)


def test_accuracy_and_pearson():
    assert accuracy(["yes", "no", "maybe", "yes"], ["yes", "no", "no", "no"]) == 50.0
    assert pearson([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(100.0)
    assert pearson([0, 1, 2, 3], [3, 2, 1, 0]) == pytest.approx(-100.0)
    assert pearson([0, 1, 2], [2, 2, 2]) == 0.0  # a collapsed, constant run scores 0, not NaN


def test_hoc_micro_f1_over_abstracts():
    gold = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]])
    pred = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]])
    # tp 2, fp 1, fn 1 → 2/3
    assert multilabel_micro_f1(gold, pred) == pytest.approx(100 * 2 / 3)


def test_pico_token_macro_f1():
    gold = ["I-PAR", "I-PAR", "O", "I-INT", "I-OUT", "O"]
    pred = ["I-PAR", "O", "O", "I-INT", "I-PAR", "O"]
    scores = token_macro_f1(gold, pred)
    # PAR: tp 1, fp 1, fn 1 → 0.5; INT: 1.0; OUT: 0
    assert scores["f1_PAR"] == pytest.approx(50.0)
    assert scores["f1_INT"] == pytest.approx(100.0)
    assert scores["f1_OUT"] == 0.0
    assert scores["macro_f1"] == pytest.approx(50.0)


def test_io_spans():
    spans = io_tags_to_spans(["I-PAR", "I-PAR", "O", "I-INT", "I-OUT", "I-OUT"])
    assert [(s.start, s.end, s.label) for s in spans] == [(0, 2, "PAR"), (3, 4, "INT"), (4, 6, "OUT")]


def test_blurb_score_is_a_mean_of_task_type_means():
    scores = {"BC5-chem": 90.0, "NCBI-disease": 80.0,  # NER mean 85
              "ChemProt": 70.0,  # RE 70
              "BIOSSES": 60.0, "HoC": 80.0,
              "PubMedQA": 50.0, "BioASQ": 90.0}  # QA 70
    result = blurb_score(scores)
    assert result["per_type"] == {"ner": 85.0, "relation": 70.0, "similarity": 60.0,
                                  "doc_classification": 80.0, "qa": 70.0}
    assert result["score"] == pytest.approx((85 + 70 + 60 + 80 + 70) / 5)
    assert result["missing_types"] == ["pico"]
