"""Benchmark: the BLURB study for one encoder — standard vs stabilised recipes, seed statistics on
the low-resource sets, a Table-4-style ablation and a Table-7-style pruning table.

    python -m benchmarks.blurb                       # run (or resume) every stage of blurb_plan.yaml
    python -m benchmarks.blurb --stage main          # one stage
    python -m benchmarks.blurb --report-only         # rebuild the report from finished runs
    python -m benchmarks.blurb --threads 1 & python -m benchmarks.blurb --threads 1   # two workers share it
    python -m benchmarks.blurb --base-model microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract-fulltext \
                               --label pubmedbert     # another encoder

Runs are resumable: each writes ``benchmarks/results/blurb_runs/<label>/<dataset>/<key>.json`` and is
skipped when that exists. After every run the aggregate ``benchmarks/results/blurb_<label>.json``,
the report ``blurb_<label>.md`` and the plot ``blurb_<label>_seeds.png`` are rewritten, so a partial
sweep is reported as exactly what it is.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import socket
import time
from pathlib import Path

import yaml

from benchmarks import blurb_targets
from benchmarks.blurb_report import VARIANT_STAGES, markdown, plot
from benchmarks.machine import report_context
from biomedserve.atomic import atomic_write
from biomedserve.data.registry import DATASETS
from biomedserve.training.blurb import blurb_score
from biomedserve.training.recipes import RecipeError, find_recipe, load_recipe
from biomedserve.training.sweep import RunSpec, expand, run_one, run_path, seed_stats, select_on_dev

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def base_recipe_path(names: str | list[str], dataset: str) -> Path:
    """The first of the stage's base recipes that exists for this dataset (e.g. ``[head, standard]``:
    the head that suits the encoder where a set has one, else the standard recipe)."""
    names = [names] if isinstance(names, str) else names
    for name in names[:-1]:
        try:
            return find_recipe(name, dataset)
        except RecipeError:
            continue
    return find_recipe(names[-1], dataset)


def plan_runs(plan: dict, stage_names: list[str] | None, base_model: str | None) -> list[tuple[str, RunSpec]]:
    """(stage, run) pairs in priority order, from the plan's stages.

    A stage names either ``recipes`` (each a variant), or ``base_recipe`` with ``variants`` (overrides
    on it), or ``base_recipe`` with a ``grid`` per group (field → values, every combination a variant,
    chosen on dev by the report).
    """
    runs = []
    for stage in plan["stages"]:
        if stage_names and stage["name"] not in stage_names:
            continue
        for group in stage["groups"]:
            budget = group.get("overrides", {})  # a compute budget for the whole group, e.g. fewer epochs
            for dataset in group["datasets"]:
                if "recipes" in stage:
                    variants = {name: (find_recipe(name, dataset), {}) for name in stage["recipes"]}
                else:
                    base = base_recipe_path(stage["base_recipe"], dataset)
                    variants = {v: (base, o) for v, o in stage.get("variants", {"base": {}}).items()}
                recipes = {variant: load_recipe(path).override(**{**budget, **overrides},
                                                               base_model=base_model or plan["encoder"])
                           for variant, (path, overrides) in variants.items()}
                for seed in group["seeds"]:  # one seed of every variant before the next seed
                    for variant, recipe in recipes.items():
                        runs += [(stage["name"], run) for run in expand(variant, recipe, [seed], group.get("grid"))]
    return runs


def keep_path(plan: dict, run: RunSpec, models_dir: Path) -> Path | None:
    """Where to keep this run's model, if the plan asks (the NER models the spaCy benchmark reuses)."""
    keep = plan.get("keep_models", {})
    if run.recipe.dataset in keep.get("datasets", []) and run.variant == keep.get("variant") \
            and run.recipe.seed == keep.get("seed"):
        return models_dir / f"{run.recipe.dataset.lower()}-{plan['encoder_label']}"
    return None


def collect(plan_list: list[tuple[str, RunSpec]], runs_dir: Path) -> dict[str, list[dict]]:
    """Finished results per stage (a run shared by stages counts in each)."""
    done: dict[str, list[dict]] = {}
    for stage, run in plan_list:
        path = run_path(runs_dir, run)
        if path.is_file():
            result = json.loads(path.read_text())
            done.setdefault(stage, []).append({**result, "variant": run.variant})
    return done


def compute_used(done: dict[str, list[dict]]) -> dict[str, dict]:
    """Runs, wall-clock hours and scoring backends per accelerator (``"cpu"``, or the GPU's name for
    runs made on a device machine), each distinct run counted once however many stages share it."""
    seen: dict[str, dict] = {}
    for results in done.values():
        for result in results:
            seen.setdefault(result.get("key") or str(id(result)), result)
    used: dict[str, dict] = {}
    for result in seen.values():
        entry = used.setdefault(result.get("accelerator", "cpu"), {"runs": 0, "hours": 0.0, "scored_with": {}})
        entry["runs"] += 1
        entry["hours"] += result.get("wall_seconds", 0.0) / 3600
        backend = result.get("scored_with", "onnx")
        entry["scored_with"][backend] = entry["scored_with"].get(backend, 0) + 1
    return {name: {**e, "hours": round(e["hours"], 2)} for name, e in sorted(used.items())}


def table(results: list[dict], split: str = "test") -> dict[str, dict[str, dict]]:
    grouped: dict[str, dict[str, list[float]]] = {}
    for r in results:
        if r.get(split) is not None:
            grouped.setdefault(r["dataset"], {}).setdefault(r["variant"], []).append(r[split])
    return {d: {v: seed_stats(s) for v, s in vs.items()} for d, vs in grouped.items()}


def build_report(plan: dict, label: str, done: dict[str, list[dict]], context: tuple[str, dict], planned: int,
                 data_dir=None, base_model: str | None = None) -> dict:
    """The study's report from the finished runs ``done``; ``context`` is (when, machine) of the measurement."""
    when, machine = context
    main = table(done.get("main", []))
    scored = set(main) | set(table(done.get("heads", [])))  # the sets whose trivial floors the report prints
    scores = {variant: {d: main[d][variant]["mean"] for d in main if variant in main[d]}
              for variant in ("standard", "stabilised")}
    blurb = {variant: blurb_score(s) for variant, s in scores.items()}
    low = plan["low_resource"]
    majority = {d: dict(zip(("label", "accuracy"), majority_accuracy(d, data_dir)))
                for d in sorted(scored) if DATASETS[d].task == "qa"}
    zero_shot = ({"BIOSSES": zero_shot_similarity(base_model or plan["encoder"], "BIOSSES", data_dir)}
                 if "BIOSSES" in scored else {})
    complete = all(d in scores[v] for v in scores for d in DATASETS if DATASETS[d].task != "pico")
    compute = compute_used(done)
    gpus = [name for name in compute if name != "cpu"]
    hardware = (f"{machine['cpu']}, {machine['usable_cores']} cores"
                + (f"; runs also on {', '.join(gpus)}" if gpus else ", no GPU"))
    finished = sum(len(v) for v in done.values())
    floors = {d: f["accuracy"] for d, f in majority.items()}
    floors.update(zero_shot)
    report = {
        "benchmark": "blurb",
        "when": when,
        "summary": {
            "encoder": plan["encoder"] if label == plan["encoder_label"] else label,
            "encoder_label": label,
            "blurb_standard": blurb["standard"]["score"],
            "blurb_stabilised": blurb["stabilised"]["score"],
            "datasets": len(set(scores["standard"]) & set(scores["stabilised"])),
            "complete": complete,
            "seeds_low_resource": min((main.get(d, {}).get(v, {}).get("n", 0) for d in low for v in scores), default=0),
            "catastrophic_standard": sum(main.get(d, {}).get("standard", {}).get("catastrophic", 0) for d in low),
            "catastrophic_stabilised": sum(main.get(d, {}).get("stabilised", {}).get("catastrophic", 0) for d in low),
            "budget_overrides": budget_overrides(plan),
            "floors": floors,
            "per_dataset": {d: {v: main[d][v]["mean"] for v in ("standard", "stabilised") if v in main[d]}
                            for d in DATASETS if d in main},
            "hardware": hardware,
            "compute": compute,
            "runs_finished": finished,
            "note": "EBM-PICO is left out of the BLURB score: its train split is not staged here.",
        },
        "blurb": blurb,
        "main": main,
        "majority_floor": majority,
        "zero_shot_similarity": zero_shot,
        "ablation": table(done.get("ablation", [])),
        "pruning": table(done.get("pruning", [])),
        "heads": {"test": table(done.get("heads", [])), "dev": table(done.get("heads", []), split="dev")},
        **{stage: {"test": table(done.get(stage, [])), "dev": table(done.get(stage, []), split="dev")}
           for stage in VARIANT_STAGES},
        "grid": grid_choices(done.get("grid", [])),
        "runs": {stage: sorted(results, key=lambda r: (r["dataset"], r["variant"], r["seed"]))
                 for stage, results in done.items()},
        "planned_runs": planned,
        "machine": machine,
    }
    if report["qa_context"]["test"]:  # how much of each QA set's contexts the stage's lengths leave unread
        lengths = sorted({run.recipe.max_length for _, run in plan_runs(plan, ["qa_context"], base_model)})
        encoder = base_model or plan["encoder"]
        report["qa_context"]["cut"] = {d: {n: context_cut(pair_lengths(d, data_dir, encoder), n) for n in lengths}
                                       for d in report["qa_context"]["test"]}
    report["summary"]["targets"] = blurb_targets.check(report, plan)
    return report


@functools.cache  # the report is rebuilt after every run; the data and encoder do not change
def pair_lengths(dataset: str, data_dir=None, encoder: str = "default") -> tuple[int, ...]:
    """Token count of every training pair of a pair set, uncut, with this encoder's tokenizer."""
    from transformers import AutoTokenizer

    from biomedserve.modeling.encoders import resolve_base_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model(encoder))
    records = DATASETS[dataset].load("train", data_dir)
    return tuple(len(ids) for ids in tokenizer([r.text_a for r in records], [r.text_b for r in records])["input_ids"])


def context_cut(lengths: tuple[int, ...], max_length: int) -> float:
    """Percent of the pairs longer than ``max_length`` tokens, so cut: how much of a QA context a
    length setting leaves unread."""
    return round(100 * sum(n > max_length for n in lengths) / len(lengths), 1)


@functools.cache  # the report is rebuilt after every run; the data and encoder do not change
def majority_accuracy(dataset: str, data_dir=None) -> tuple[str, float]:
    """The always-answer-the-commonest-label score on test: the floor a QA model must clear to have
    learnt anything (a collapsed fine-tuning run lands exactly on it)."""
    from collections import Counter

    labels = [record.label for record in DATASETS[dataset].load("test", data_dir)]
    label, count = Counter(labels).most_common(1)[0]
    return label, round(100 * count / len(labels), 2)


@functools.cache
def zero_shot_similarity(encoder: str, dataset: str = "BIOSSES", data_dir=None) -> float:
    """Test Pearson (points) of the untouched encoder's mean-pooled cosine on a similarity set.

    A reference a fine-tuned model should beat: a sentence-embedding encoder such as MiniLM already
    carries similarity in its mean-pooled tokens, while the fine-tuned cross-encoder head reads the
    pooler over ``[CLS]``, which in MiniLM carries little (``benchmarks/pooler_probe.py``).
    """
    import torch
    from scipy.stats import pearsonr
    from transformers import AutoModel, AutoTokenizer

    from biomedserve.modeling.encoders import mean_pool, resolve_base_model

    path = resolve_base_model(encoder)
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    records = DATASETS[dataset].load("test", data_dir)

    def embed(texts: list[str]) -> torch.Tensor:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
        return torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1)

    cosine = (embed([r.text_a for r in records]) * embed([r.text_b for r in records])).sum(-1)
    return round(100 * float(pearsonr(cosine.numpy(), [float(r.label) for r in records])[0]), 2)


def budget_overrides(plan: dict) -> list[dict]:
    """The main stage's compute budgets: groups run with fields other than their recipe files' (an
    empty list means every standard-vs-stabilised run trained at its recipe's full budget)."""
    return [{"datasets": g["datasets"], "overrides": g["overrides"]}
            for st in plan["stages"] if st["name"] == "main" for g in st["groups"] if g.get("overrides")]


def grid_choices(results: list[dict]) -> dict[str, dict]:
    """Per dataset: every grid point's dev and test statistics, and the point chosen on dev."""
    by_dataset: dict[str, list[dict]] = {}
    for r in results:
        by_dataset.setdefault(r["dataset"], []).append(r)
    return {d: {"dev": table(rs, split="dev")[d], "test": table(rs)[d], "chosen": select_on_dev(rs)}
            for d, rs in sorted(by_dataset.items())}


def run_keys(done: dict[str, list[dict]]) -> set[tuple[str, str]]:
    """(stage, run key) of every finished run a report rests on."""
    return {(stage, r["key"]) for stage, results in done.items() for r in results}


def write(report: dict, plan: dict, label: str) -> None:
    """JSON, Markdown and plot, each replaced atomically (workers sharing one sweep rewrite them in turn)."""
    RESULTS.mkdir(parents=True, exist_ok=True)

    atomic_write(RESULTS / f"blurb_{label}.json", json.dumps(report, indent=2) + "\n")
    atomic_write(RESULTS / f"blurb_{label}.md", markdown(report, plan))
    png = io.BytesIO()
    plot(report, plan, png)
    if png.getvalue():  # empty when matplotlib is missing or no low-resource set has finished
        atomic_write(RESULTS / f"blurb_{label}_seeds.png", png.getvalue())


def claim(result: Path) -> bool:
    """Claim a run for this process: ``<result>.claim`` created exclusively, holding host and pid.

    Several processes can then share one sweep (``--threads 1`` each; on this 2-core host the sweep
    logs showed a 1-thread worker training about as fast as one 2-thread process), each taking the
    next unclaimed run. A claim whose process died on this host is taken over; one from another
    host is respected.
    """
    marker = result.with_suffix(".claim")
    marker.parent.mkdir(parents=True, exist_ok=True)
    me = f"{socket.gethostname()} {os.getpid()}"
    for _ in range(2):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            host, _, pid = marker.read_text().partition(" ")
            if host != socket.gethostname() or not pid.strip().isdigit() or _alive(int(pid)):
                return False
            marker.unlink(missing_ok=True)  # its process is gone: the run is free again
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(me)
        return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 only checks; PermissionError means it exists under another user
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan", type=Path, default=HERE / "blurb_plan.yaml")
    parser.add_argument("--stage", action="append", help="only these stages (repeatable)")
    parser.add_argument("--base-model", default=None, help="encoder (default: the plan's)")
    parser.add_argument("--label", default=None, help="name for results files (default: the plan's)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--max-hours", type=float, default=None, help="stop starting new runs after this long")
    parser.add_argument("--models-dir", type=Path, default=Path("models"),
                        help="where the models the plan keeps go (default: models/)")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where results go (default: benchmarks/results beside this script); lets a frozen "
                             "copy of the code (a git worktree) run for hours while the checkout changes")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for training (default: all cores)")
    parser.add_argument("--score-backend", choices=["onnx", "torch"], default="onnx",
                        help="what scores dev and test: the fp32 ONNX graph (default), or the same weights in "
                             "PyTorch, on the GPU where there is one (a GPU machine whose ONNX Runtime is CPU-only)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    global RESULTS
    if args.results_dir:
        RESULTS = args.results_dir

    plan = yaml.safe_load(args.plan.read_text())
    label = args.label or plan["encoder_label"]
    runs_dir = RESULTS / "blurb_runs" / label
    plan_list = plan_runs(plan, args.stage, args.base_model)
    all_runs = plan_runs(plan, None, args.base_model)
    committed = RESULTS / f"blurb_{label}.json"
    unique: dict[str, RunSpec] = {}
    for _, run in plan_list:
        unique.setdefault(run.key, run)  # a run shared by stages keeps its first (main) name
    started = time.time()
    if not args.report_only:
        pending = [run for run in unique.values() if not run_path(runs_dir, run).is_file()]
        print(f"{len(unique)} distinct runs planned, {len(pending)} to do", flush=True)
        for index, run in enumerate(pending, 1):
            if args.max_hours and time.time() - started > args.max_hours * 3600:
                print("time budget reached; re-run to continue", flush=True)
                break
            path = run_path(runs_dir, run)
            if path.is_file() or not claim(path):
                continue  # finished or being run by another process
            print(f"[{index}/{len(pending)}] {run.recipe.dataset} {run.variant} seed {run.recipe.seed}", flush=True)
            keep = keep_path(plan, run, args.models_dir)
            try:
                result = run_one(run, runs_dir, data_dir=args.data_dir, keep_model=keep,
                                 score_backend=args.score_backend)
            finally:
                path.with_suffix(".claim").unlink(missing_ok=True)
            print(f"    test {result['metric']} {result['test']:.2f} (dev {result['dev']:.2f}) "
                  f"in {result['wall_seconds']:.0f} s", flush=True)
            write(build_report(plan, label, collect(all_runs, runs_dir), report_context(committed, False),
                               len({r.key for _, r in all_runs}), args.data_dir, args.base_model), plan, label)
    done = collect(all_runs, runs_dir)
    # nothing new since the committed report: it is rebuilt with the time and machine it states
    unchanged = run_keys(done) == run_keys(json.loads(committed.read_text()).get("runs", {})) if committed.is_file() else False
    write(build_report(plan, label, done, report_context(committed, args.report_only and unchanged),
                       len({r.key for _, r in all_runs}), args.data_dir, args.base_model), plan, label)
    print((RESULTS / f"blurb_{label}.md").read_text())


if __name__ == "__main__":
    main()
