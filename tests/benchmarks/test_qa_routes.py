"""benchmarks/qa_routes.py: the pair features, the cross-validated classifier, the choice on dev."""

from __future__ import annotations

import numpy as np

from tests.benchmarks import load_benchmark

qa = load_benchmark("qa_routes")


def _encode(texts: list[str]) -> np.ndarray:
    """A stand-in sentence encoder: unit vectors along the axis named by the text's first letter."""
    out = np.zeros((len(texts), 3))
    for i, text in enumerate(texts):
        out[i, "abc".index(text[0])] = 1.0
    return out


def test_pair_features_pool_over_sentences_and_carry_the_cosines():
    features = qa.pair_features(_encode, "a question", ["a same axis", "b other", "c other"])
    assert features.shape == (4 * 3 + 3,)
    assert features[-3] == 1.0                             # max cosine: the sentence on the question's axis
    assert np.isclose(features[-2], 1 / 3)                 # mean cosine
    assert np.isclose(features[-1], 1 / 3)                 # top-3 mean over the three
    assert features[3:6].tolist() == [1.0, 1.0, 1.0]       # max |u - v| per dimension


def test_the_classifier_is_chosen_by_cross_validation_on_train_and_learns_a_real_signal():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    labels = ["yes" if v > 0 else "no" for v in x[:, 0]]
    texts = [("good" if y == "yes" else "bad") + " result" for y in labels]
    model = qa.fit(x, texts, labels)
    assert set(model.best_params_) == {"model__C", "model__class_weight"}
    assert qa.accuracy(model, x, texts, labels) >= 95.0
    # trained with a third answer, scored on a set without it: restricted, "maybe" is never predicted
    three = ["maybe" if v > 1.0 else y for v, y in zip(x[:, 0], labels)]
    model = qa.fit(x, None, three)
    yes_no = [y if y != "maybe" else "yes" for y in three]
    assert qa.accuracy(model, x, None, yes_no, allowed=["no", "yes"]) > qa.accuracy(model, x, None, yes_no)


def _row(dev: float, test: float) -> dict:
    return {"dev": dev, "test": test, "chosen": {}, "dev_delta_vs_floor": 0.0, "dev_delta_vs_finetuned": None}


def test_the_summary_takes_the_best_route_on_dev_and_says_when_floor_plus_5_is_missed():
    results = {"PubMedQA": {"routes": {"floor": _row(54.0, 55.2), "lexical": _row(58.0, 57.0),
                                       "sentence_pairs": _row(56.0, 70.0)},
                            "finetuned_stabilised_dev": 54.0, "examples": {"train": 450, "dev": 50, "test": 500}}}
    s = qa.summarize(results)["PubMedQA"]
    assert s["best_on_dev"] == "lexical" and s["test"] == 57.0    # dev decides, never test
    assert s["test_above_floor"] == 1.8 and s["meets_floor_plus_5"] is False
    page = qa.markdown({"when": "now", "machine": {"cpu": "x", "cpu_flags": ["avx2"]}, "results": results,
                        "summary": qa.summarize(results)})
    assert "**missed**" in page and "| lexical | 58.00 | 57.00 |" in page
    # a route below the floor on dev is never chosen over it, whatever test says
    results["PubMedQA"]["routes"].update(lexical=_row(52.0, 56.6), sentence_pairs=_row(54.0, 70.0))
    s = qa.summarize(results)["PubMedQA"]
    assert s["best_on_dev"] == "floor" and s["test_above_floor"] == 0.0
