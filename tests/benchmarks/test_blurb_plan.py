"""The BLURB study plan (benchmarks/blurb_plan.yaml) expands into valid, deduplicated runs.

The plan is data that hours of CPU time depend on, so a typo in it should fail here, not an hour in.
"""

import importlib.util
import sys
from pathlib import Path

import yaml

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_blurb_module():
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("blurb_benchmark", BENCHMARKS / "blurb.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plan_expands_with_group_budgets_applied_to_both_recipes():
    blurb = load_blurb_module()
    plan = yaml.safe_load((BENCHMARKS / "blurb_plan.yaml").read_text())
    runs = blurb.plan_runs(plan, ["main"], None)
    by_dataset: dict[str, list] = {}
    for _, run in runs:
        by_dataset.setdefault(run.recipe.dataset, []).append(run)
    main = next(stage for stage in plan["stages"] if stage["name"] == "main")
    budgeted = next(g for g in main["groups"] if g.get("overrides"))
    for dataset in budgeted["datasets"]:
        assert {r.recipe.epochs for r in by_dataset[dataset]} == {budgeted["overrides"]["epochs"]}
        assert {r.variant for r in by_dataset[dataset]} == {"standard", "stabilised"}
    # outside a budgeted group the recipe file's own epochs stand
    assert all(r.recipe.epochs == 30 for r in by_dataset["BIOSSES"] if r.variant == "stabilised")
    # every BLURB dataset with a train split is in the main stage, low-resource ones with 5 seeds
    assert set(by_dataset) == {d for d in blurb.DATASETS if blurb.DATASETS[d].task != "pico"}
    for dataset in plan["low_resource"]:
        assert {r.recipe.seed for r in by_dataset[dataset]} == {1, 2, 3, 4, 5}


def test_budget_is_printed_in_the_report():
    blurb = load_blurb_module()
    plan = yaml.safe_load((BENCHMARKS / "blurb_plan.yaml").read_text())
    report = blurb.build_report(plan, "minilm", {}, {"cpu": "test CPU", "usable_cores": 2}, planned=0)
    text = blurb.markdown(report, plan)
    assert "Compute budget" in text and "`epochs: 1`" in text


def test_majority_floor_matches_the_manifest_counts():
    # MANIFEST.md: BioASQ test yes/no = 94 / 46, PubMedQA test yes/no/maybe = 276 / 169 / 55
    blurb = load_blurb_module()
    assert blurb.majority_accuracy("BioASQ") == ("yes", round(100 * 94 / 140, 2))
    assert blurb.majority_accuracy("PubMedQA") == ("yes", round(100 * 276 / 500, 2))


def test_zero_shot_similarity_is_a_real_correlation_of_the_encoder():
    blurb = load_blurb_module()
    pearson = blurb.zero_shot_similarity("default", "BIOSSES")
    assert -100 <= pearson <= 100
    assert pearson > 50  # MiniLM is a sentence-similarity encoder: its untouched embeddings already correlate


def test_a_run_is_claimed_by_one_worker_and_freed_when_its_process_is_gone(tmp_path):
    import os
    import socket
    import subprocess

    blurb = load_blurb_module()
    result = tmp_path / "BIOSSES" / "abc.json"
    assert blurb.claim(result)
    assert not blurb.claim(result)  # held by a live process (this one)
    marker = result.with_suffix(".claim")
    assert marker.read_text() == f"{socket.gethostname()} {os.getpid()}"
    dead = subprocess.Popen(["true"])
    dead.wait()
    marker.write_text(f"{socket.gethostname()} {dead.pid}")
    assert blurb.claim(result)  # its worker died: taken over
    marker.write_text(f"another-host {os.getpid()}")
    assert not blurb.claim(result)  # another machine's claim cannot be checked, so it stands


def test_the_heads_stage_expands_into_valid_runs_and_reports_dev_and_test():
    blurb = load_blurb_module()
    plan = yaml.safe_load((BENCHMARKS / "blurb_plan.yaml").read_text())
    runs = [run for _, run in blurb.plan_runs(plan, ["heads"], None)]
    poolings = {(r.recipe.dataset, r.variant): (r.recipe.pooling, r.recipe.head) for r in runs}
    assert poolings[("GAD", "entity_start")] == ("entity_start", "cross")
    assert poolings[("BIOSSES", "biencoder")] == (None, "biencoder")
    assert poolings[("BioASQ", "pooler")] == (None, "cross")  # the standard recipe as it is
    done = {"heads": [{"dataset": "GAD", "variant": "mean", "seed": 1, "dev": 80.0, "test": 77.0, "metric": "f1"}]}
    report = blurb.build_report(plan, "minilm", done, {"cpu": "test CPU", "usable_cores": 2}, planned=1)
    assert report["heads"]["dev"]["GAD"]["mean"]["mean"] == 80.0
    assert "| GAD | – | – | 80.00 / 77.00 | – | – |" in blurb.markdown(report, plan)


def test_a_report_of_other_stages_only_has_no_empty_main_table():
    blurb = load_blurb_module()
    plan = yaml.safe_load((BENCHMARKS / "blurb_plan.yaml").read_text())
    done = {"heads": [{"dataset": "BIOSSES", "variant": "biencoder", "seed": 1, "dev": 80.0, "test": 87.8,
                       "metric": "pearson"}]}
    page = blurb.markdown(blurb.build_report(plan, "x", done, {"cpu": "c", "usable_cores": 2}, planned=1), plan)
    assert "standard vs stabilised" not in page and "| BIOSSES |" in page and "80.00 / 87.80" in page


def test_the_segments_stage_compares_one_and_two_segment_ids():
    blurb = load_blurb_module()
    plan = yaml.safe_load((BENCHMARKS / "blurb_plan.yaml").read_text())
    runs = {r.variant: r for _, r in blurb.plan_runs(plan, ["segments"], None)}
    assert runs["single"].recipe.single_segment and not runs["two"].recipe.single_segment
    assert runs["two"].key == next(r.key for _, r in blurb.plan_runs(plan, ["heads"], None)
                                   if r.recipe.dataset == "PubMedQA" and r.variant == "pooler")  # one run, shared
    done = {"segments": [{"dataset": "PubMedQA", "variant": "single", "seed": 1, "dev": 60.0, "test": 58.0,
                          "metric": "accuracy"}]}
    page = blurb.markdown(blurb.build_report(plan, "x", done, {"cpu": "c", "usable_cores": 2}, planned=1), plan)
    assert "| PubMedQA | – / – | 60.00 / 58.00 |" in page
