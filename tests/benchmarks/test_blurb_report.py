"""The BLURB report's Table-4 reading: SS / QA per ablation variant, ours beside the paper's row."""

from benchmarks.blurb_report import ablation_summary_rows

VARIANTS = ("baseline", "freeze")
PAPER = {"model": "BERT BASE", "SS": [93.5, 92.9], "QA": [71.7, 76.3]}


def _stats(mean: float) -> dict:
    return {"mean": mean, "std": 0.0, "n": 1, "min": mean}


def test_qa_is_the_mean_of_both_qa_sets_and_ss_is_biosses():
    ablation = {"BIOSSES": {"baseline": _stats(80.0), "freeze": _stats(81.0)},
                "PubMedQA": {"baseline": _stats(50.0), "freeze": _stats(60.0)},
                "BioASQ": {"baseline": _stats(70.0), "freeze": _stats(80.0)}}
    ours, paper = ablation_summary_rows(ablation, PAPER, VARIANTS)
    assert "80.00 / 60.00" in ours and "81.00 / 70.00" in ours
    assert "BERT BASE" in paper and "93.5 / 71.7" in paper and "92.9 / 76.3" in paper


def test_a_qa_cell_missing_one_set_is_not_averaged_over_the_other():
    ablation = {"BIOSSES": {"baseline": _stats(80.0)}, "PubMedQA": {"baseline": _stats(50.0)}}
    (ours,) = ablation_summary_rows(ablation, {}, VARIANTS)
    assert "80.00 / –" in ours and "– / –" in ours
