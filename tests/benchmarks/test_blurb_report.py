"""The BLURB report: the Table-4 reading (SS / QA per ablation variant, ours beside the paper's row) and the SlimFit stage's verdicts."""

from benchmarks.blurb_report import ablation_summary_rows, slimfit_verdicts

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


def test_slimfit_counts_only_a_dev_gain_above_the_recipes_seed_spread():
    def stats(mean, std=0.0, n=1):
        return {"mean": mean, "std": std, "n": n, "min": mean}

    stage = {"dev": {"BIOSSES": {"recipe": stats(80.35, 1.43, 5), "slimfit": stats(80.87, 2.2, 5)},
                     "HoC": {"recipe": stats(80.0), "slimfit": stats(85.0)},
                     "PubMedQA": {"recipe": stats(54.67, 1.15, 3), "slimfit": stats(56.0)},
                     "BioASQ": {"recipe": stats(84.0, 1.0, 3), "slimfit": stats(86.0, 1.0, 3)},
                     "DDI": {"recipe": stats(70.0), "slimfit": stats(60.0)},
                     "GAD": {"recipe": stats(54.0)}}}
    line = slimfit_verdicts(stage)[0]
    assert "BIOSSES +0.52 (spread 1.43: within)" in line
    assert "HoC +5.00 (SlimFit 1 seed(s), recipe 1: not judged" in line
    assert "PubMedQA +1.33 (SlimFit 1 seed(s), recipe 3: not judged" in line  # unequal seeds are not compared
    assert "DDI -10.00 (lower: not taken)" in line
    assert "BioASQ +2.00 (spread 1.00: above)" in line and line.endswith("Above the spread: BioASQ.")
    assert "GAD" not in line  # SlimFit not run there yet
    assert slimfit_verdicts({"dev": {"HoC": {"recipe": stats(80.0), "slimfit": stats(75.0)}}})[0].endswith(
        "no stabilised recipe takes SlimFit.")
    assert slimfit_verdicts({}) == []
