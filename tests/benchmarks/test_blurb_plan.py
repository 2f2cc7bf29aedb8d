"""The BLURB study plan (benchmarks/blurb_plan.yaml) expands into valid, deduplicated runs.

The plan is data that hours of CPU time depend on, so a typo in it should fail here, not an hour in.
"""


import yaml

from tests.benchmarks import BENCHMARKS, load_benchmark

WHEN = "2026-01-01T00:00:00+00:00"  # the (when, machine) context build_report writes into a report


def load_blurb_module():
    return load_benchmark("blurb")


def load_plan() -> dict:
    return yaml.safe_load((BENCHMARKS / "blurb_plan.yaml").read_text())


def stage_runs(blurb, plan: dict, stage: str) -> dict:
    """A stage's runs by (dataset, variant)."""
    return {(r.recipe.dataset, r.variant): r for _, r in blurb.plan_runs(plan, [stage], None)}


def main_keys(blurb, plan: dict) -> dict:
    """The main stage's run keys by (dataset, recipe, seed)."""
    return {(r.recipe.dataset, r.variant, r.recipe.seed): r.key for _, r in blurb.plan_runs(plan, ["main"], None)}


def test_main_stage_trains_every_set_at_its_recipes_full_budget():
    blurb = load_blurb_module()
    plan = load_plan()
    runs = blurb.plan_runs(plan, ["main"], None)
    by_dataset: dict[str, list] = {}
    for _, run in runs:
        by_dataset.setdefault(run.recipe.dataset, []).append(run)
    # no compute budget: every run's epochs are its recipe file's own
    for dataset, dataset_runs in by_dataset.items():
        for run in dataset_runs:
            recipe = blurb.load_recipe(blurb.find_recipe(run.variant, dataset))
            assert run.recipe.epochs == recipe.epochs, (dataset, run.variant)
    assert {r.recipe.epochs for r in by_dataset["ChemProt"]} == {3}
    # every BLURB dataset with a train split is in the main stage, low-resource ones with 5 seeds
    assert set(by_dataset) == {d for d in blurb.DATASETS if blurb.DATASETS[d].task != "pico"}
    for dataset in plan["low_resource"]:
        assert {r.recipe.seed for r in by_dataset[dataset]} == {1, 2, 3, 4, 5}
    # the stabilised recipes read what the encoder was trained to produce
    stabilised = {r.recipe.dataset: r.recipe for d in ("BIOSSES", "GAD", "ChemProt", "DDI") for r in by_dataset[d]
                  if r.variant == "stabilised"}
    assert stabilised["BIOSSES"].head == "biencoder" and stabilised["GAD"].pooling == "mean"
    assert stabilised["ChemProt"].pooling == stabilised["DDI"].pooling == "entity_start"


def test_summary_lists_budget_overrides_and_the_report_prints_them():
    blurb = load_blurb_module()
    plan = load_plan()
    machine = {"cpu": "test CPU", "usable_cores": 2}
    assert blurb.build_report(plan, "minilm", {}, (WHEN, machine), planned=0)["summary"]["budget_overrides"] == []
    main = next(stage for stage in plan["stages"] if stage["name"] == "main")
    main["groups"][0]["overrides"] = {"epochs": 1}
    report = blurb.build_report(plan, "minilm", {}, (WHEN, machine), planned=0)
    assert report["summary"]["budget_overrides"] == [{"datasets": main["groups"][0]["datasets"], "overrides": {"epochs": 1}}]
    text = blurb.markdown(report, plan)
    assert "Compute budget" in text and "`epochs: 1`" in text


def test_summary_carries_floors_and_per_dataset_means():
    blurb = load_blurb_module()
    plan = load_plan()
    done = {"main": [{"dataset": "BioASQ", "variant": v, "seed": 1, "dev": 80.0, "test": t, "metric": "accuracy"}
                     for v, t in (("standard", 67.14), ("stabilised", 72.5))]}
    summary = blurb.build_report(plan, "minilm", done, (WHEN, {"cpu": "c", "usable_cores": 2}), planned=2)["summary"]
    assert summary["per_dataset"] == {"BioASQ": {"standard": 67.14, "stabilised": 72.5}}
    assert summary["floors"] == {"BioASQ": round(100 * 94 / 140, 2)}


def test_grid_stage_chooses_on_dev_and_falls_back_to_standard_without_a_head_recipe():
    blurb = load_blurb_module()
    plan = load_plan()
    runs = [run for _, run in blurb.plan_runs(plan, ["grid"], None)]
    biosses = [r for r in runs if r.recipe.dataset == "BIOSSES"]
    assert {r.recipe.head for r in biosses} == {"biencoder"}  # train/BIOSSES/head.yaml
    assert len({(r.recipe.learning_rate, r.recipe.epochs) for r in biosses}) == 6
    chem = [r for r in runs if r.recipe.dataset == "BC5-chem"]
    assert chem and {r.recipe.pooling for r in chem} == {None}  # no head.yaml: the standard recipe
    # a grid point equal to the standard recipe is the main stage's run, not a second one
    main_keys = {r.key for _, r in blurb.plan_runs(plan, ["main"], None)}
    assert any(r.key in main_keys for r in chem)
    done = {"grid": [{"dataset": "GAD", "variant": f"base[learning_rate={lr}]", "seed": 1, "dev": dev, "test": test,
                      "metric": "f1"} for lr, dev, test in ((2e-5, 78.0, 90.0), (5e-5, 81.0, 77.0))]}
    report = blurb.build_report(plan, "x", done, (WHEN, {"cpu": "c", "usable_cores": 2}), planned=2)
    assert report["grid"]["GAD"]["chosen"] == "base[learning_rate=5e-05]"  # dev, not test, decides
    assert "| GAD | **[learning_rate=5e-05]** | 81.00 | 77.00 |" in blurb.markdown(report, plan)


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
    plan = load_plan()
    runs = [run for _, run in blurb.plan_runs(plan, ["heads"], None)]
    poolings = {(r.recipe.dataset, r.variant): (r.recipe.pooling, r.recipe.head) for r in runs}
    assert poolings[("GAD", "entity_start")] == ("entity_start", "cross")
    assert poolings[("BIOSSES", "biencoder")] == (None, "biencoder")
    assert poolings[("BioASQ", "pooler")] == (None, "cross")  # the standard recipe as it is
    done = {"heads": [{"dataset": "GAD", "variant": "mean", "seed": 1, "dev": 80.0, "test": 77.0, "metric": "f1"}]}
    report = blurb.build_report(plan, "minilm", done, (WHEN, {"cpu": "test CPU", "usable_cores": 2}), planned=1)
    assert report["heads"]["dev"]["GAD"]["mean"]["mean"] == 80.0
    assert "| GAD | – | – | 80.00 / 77.00 | – | – |" in blurb.markdown(report, plan)


def test_a_report_of_other_stages_only_has_no_empty_main_table():
    blurb = load_blurb_module()
    plan = load_plan()
    done = {"heads": [{"dataset": "BIOSSES", "variant": "biencoder", "seed": 1, "dev": 80.0, "test": 87.8,
                       "metric": "pearson"}]}
    page = blurb.markdown(blurb.build_report(plan, "x", done, (WHEN, {"cpu": "c", "usable_cores": 2}), planned=1), plan)
    assert "standard vs stabilised" not in page and "| BIOSSES |" in page and "80.00 / 87.80" in page


def test_the_segments_stage_compares_one_and_two_segment_ids():
    blurb = load_blurb_module()
    plan = load_plan()
    runs = {r.variant: r for _, r in blurb.plan_runs(plan, ["segments"], None)}
    assert runs["single"].recipe.single_segment and not runs["two"].recipe.single_segment
    assert runs["two"].key == next(r.key for _, r in blurb.plan_runs(plan, ["heads"], None)
                                   if r.recipe.dataset == "PubMedQA" and r.variant == "pooler")  # one run, shared
    done = {"segments": [{"dataset": "PubMedQA", "variant": "single", "seed": 1, "dev": 60.0, "test": 58.0,
                          "metric": "accuracy"}]}
    page = blurb.markdown(blurb.build_report(plan, "x", done, (WHEN, {"cpu": "c", "usable_cores": 2}), planned=1), plan)
    assert "| PubMedQA | – / – | 60.00 / 58.00 |" in page


def test_compute_is_counted_once_per_run_and_split_by_accelerator():
    blurb = load_blurb_module()
    plan = load_plan()
    cpu_run = {"dataset": "BioASQ", "variant": "standard", "seed": 1, "dev": 80.0, "test": 67.14,
               "metric": "accuracy", "key": "a" * 16, "wall_seconds": 1800.0}
    gpu_run = {**cpu_run, "variant": "stabilised", "key": "b" * 16, "wall_seconds": 360.0,
               "accelerator": "NVIDIA H200", "scored_with": "torch"}
    done = {"main": [cpu_run, gpu_run], "heads": [{**cpu_run, "variant": "pooler"}]}  # shared by two stages
    report = blurb.build_report(plan, "minilm", done, (WHEN, {"cpu": "c", "usable_cores": 2}), planned=2)
    assert report["summary"]["compute"] == {"NVIDIA H200": {"runs": 1, "hours": 0.1, "scored_with": {"torch": 1}},
                                            "cpu": {"runs": 1, "hours": 0.5, "scored_with": {"onnx": 1}}}
    assert "runs also on NVIDIA H200" in report["summary"]["hardware"]
    assert "NVIDIA H200: 1 runs, 0.10 h wall-clock, scored through torch (1)" in blurb.markdown(report, plan)


def test_the_probe_init_stage_shares_the_stabilised_run_and_reports_lp_ft_beside_it():
    blurb = load_blurb_module()
    plan = load_plan()
    runs, main = stage_runs(blurb, plan, "probe_init"), main_keys(blurb, plan)
    for dataset in ("BioASQ", "PubMedQA"):
        assert runs[(dataset, "probe_head")].recipe.head_from_probe
        assert runs[(dataset, "probe_head")].recipe.pooling is not None  # a pooled head for the probe to start
        assert not runs[(dataset, "random_head")].recipe.head_from_probe
        # one of the two is the stabilised recipe itself (one run, shared): the one its file chose on dev
        assert main[(dataset, "stabilised", 1)] in {runs[(dataset, v)].key for v in ("random_head", "probe_head")}
    done = {"probe_init": [{"dataset": "BioASQ", "variant": "probe_head", "seed": 1, "dev": 86.0, "test": 71.0,
                            "metric": "accuracy"}]}
    page = blurb.markdown(blurb.build_report(plan, "x", done, (WHEN, {"cpu": "c", "usable_cores": 2}), planned=1), plan)
    assert "| BioASQ | – / – | 86.00 / 71.00 |" in page


def test_targets_are_checked_and_a_missed_one_lists_what_moved_dev():
    blurb = load_blurb_module()
    plan = load_plan()
    run = {"dataset": "BioASQ", "seed": 1, "metric": "accuracy"}
    done = {"main": [{**run, "variant": "standard", "dev": 80.0, "test": 67.14, "key": "s1"},
                     {**run, "variant": "stabilised", "dev": 84.0, "test": 70.0, "key": "b1"}],
            "heads": [{**run, "variant": "pooler", "dev": 80.0, "test": 67.14, "key": "s1"},  # the standard run itself
                      {**run, "variant": "cls", "dev": 78.5, "test": 66.0, "key": "c1"}],
            "probe_init": [{**run, "variant": "probe_head", "dev": 84.0, "test": 70.0, "key": "b1"}],  # shared
            "grid": [{**run, "seed": 2, "variant": "base[epochs=10]", "dev": 90.0, "test": 73.0, "key": "g2"}]}
    report = blurb.build_report(plan, "minilm", done, (WHEN, {"cpu": "c", "usable_cores": 2}), planned=4)
    targets = {t["target"].split(" ")[0]: t for t in report["summary"]["targets"]}
    bioasq = targets["BioASQ"]
    assert bioasq["goal"] == round(report["summary"]["floors"]["BioASQ"] + 5, 2) and bioasq["met"] is False
    tried = {(a["stage"], a["variant"]): a for a in bioasq["attempts"]}
    # the standard run shared by the heads stage is not an attempt; a run shared by two stages is one
    assert set(tried) == {("main", "stabilised"), ("heads", "cls"), ("grid", "base[epochs=10]")}
    assert tried[("main", "stabilised")]["dev_delta"] == 4.0 and tried[("heads", "cls")]["dev_delta"] == -1.5
    assert tried[("grid", "base[epochs=10]")]["dev_delta"] is None  # no standard run on seed 2 to compare with
    assert [a["dev"] for a in bioasq["attempts"]] == [90.0, 84.0, 78.5]
    assert targets["ChemProt"]["met"] is None and targets["ChemProt"]["value"] is None  # not run: not judged
    assert targets["5"]["met"] is False  # BioASQ has 1 seed of 5
    ablation = targets["ablation"]
    assert ablation["met"] is False and ablation["value"] == 0 and ablation["goal"] == 4 * 3 * 3  # 4 variants, 3 sets, 3 seeds
    page = blurb.markdown(report, plan)
    assert "| heads | cls | 1 | 78.50 | -1.50 | 66.00 |" in page and "**missed**" in page


def test_the_qa_context_stage_reads_the_end_or_more_of_a_context_and_reports_how_much_is_cut():
    blurb = load_blurb_module()
    plan = load_plan()
    runs, main = stage_runs(blurb, plan, "qa_context"), main_keys(blurb, plan)
    for dataset in ("PubMedQA", "BioASQ"):
        assert runs[(dataset, "left256")].recipe.truncation_side == "left"
        assert runs[(dataset, "right512")].recipe.max_length == 512
        # the recipe's own setting is the stabilised run itself (one run, shared)
        assert main[(dataset, "stabilised", 1)] in {r.key for (d, _), r in runs.items() if d == dataset}
    done = {"qa_context": [{"dataset": "PubMedQA", "variant": "left256", "seed": 1, "dev": 58.0, "test": 57.0,
                            "metric": "accuracy", "key": "k"}]}
    report = blurb.build_report(plan, "x", done, (WHEN, {"cpu": "c", "usable_cores": 2}), planned=1)
    cut = report["qa_context"]["cut"]["PubMedQA"]
    assert 50 < cut[256] < 100 and 0 < cut[512] < 10  # abstracts: most over 256 tokens, few over 512
    page = blurb.markdown(report, plan)
    assert "| PubMedQA | – / – | 58.00 / 57.00 | – / – |" in page and f"PubMedQA {cut[256]:.0f}% at 256" in page
