"""Benchmark: SlimFit against full fine-tuning and static freezing, on four BLURB task types.

    python -m benchmarks.slimfit                      # every cell (resumable: a cell measured is kept)
    python -m benchmarks.slimfit --sets BIOSSES       # one set
    python -m benchmarks.slimfit --shape-only         # the BERT-base-shaped memory and batch rows alone
    python -m benchmarks.slimfit --report-only        # rebuild the report from the cells kept

Arms, on the same recipe (``train/<set>/stabilised.yaml``: the recipe the BLURB study serves; the
``standard`` one collapses to its floor on HoC and BIOSSES in ``blurb_runs/``, and a memory saving on a
model that learned nothing says nothing of its cost in accuracy), seed and budget:

- ``full``: every layer trains;
- ``static``: the lowest layers frozen throughout (``freeze_embeddings`` and ``freeze_layers: k``), k chosen
  so the frozen share of SlimFit's units (embeddings + the encoder's linear layers) is nearest SlimFit's
  freeze ratio: Tinn et al.'s "freeze lower layers", at the same average ratio;
- ``slimfit``: the recipe plus ``slimfit: {freeze_ratio, interval, quantize_activations: true}``.

Per cell: the test score (the BLURB metric, from the card), peak training memory counted exactly
(:class:`biomedserve.training.slimfit.MemoryMeter`: parameter + gradient + optimizer-state bytes plus the
peak of the saved activations, through the saved-tensors hooks; the process peak RSS beside it), seconds
per step, and SlimFit's freezing pattern. Then a BERT-base-shaped encoder (12 layers, 768 hidden,
random weights) at batch 32 × 128: counted peak per arm, and the largest batch whose counted peak fits
``--memory-cap-gib``. Writes ``benchmarks/results/slimfit.{json,md}`` with the machine and CPU flags.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.machine import cpu_flags, report_context
from biomedserve.atomic import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"
# NER, similarity, document classification, relation extraction: cheapest first, so cells land early
SETS = ("BIOSSES", "BC5-chem", "HoC", "ChemProt")
ARMS = ("full", "static", "slimfit")
FREEZE_RATIO = 0.75
INTERVAL = 50
QUANTIZE_ACTIVATIONS = True
SEED = 1
RECIPE = "stabilised"


def static_layers(n_layers: int, ratio: float | None = None) -> int:
    """The ``freeze_layers`` (embeddings frozen too) whose share of SlimFit's units is nearest ``ratio``
    (default :data:`FREEZE_RATIO`): units are the embeddings plus six linear layers per transformer block."""
    ratio = FREEZE_RATIO if ratio is None else ratio
    units = 1 + 6 * n_layers
    return min(range(n_layers + 1), key=lambda k: abs((1 + 6 * k) / units - ratio))


def arm_overrides(arm: str, n_layers: int) -> dict:
    if arm == "full":
        return {}
    if arm == "static":
        return {"freeze_embeddings": True, "freeze_layers": static_layers(n_layers)}
    return {"slimfit": {"freeze_ratio": FREEZE_RATIO, "interval": INTERVAL, "quantize_activations": QUANTIZE_ACTIVATIONS}}


def run_cell(dataset: str, arm: str, work: Path, data_dir: str | None) -> dict:
    """One arm on one set, in a child process (its peak RSS is its own), the card read back."""
    from biomedserve.modeling.encoders import default_encoder_path

    n_layers = json.loads((Path(default_encoder_path()) / "config.json").read_text())["num_hidden_layers"]
    out = work / f"{dataset}-{arm}"
    code = (
        "import json, resource, sys\n"
        "from biomedserve.training.finetune import TrainOptions, train\n"
        "from biomedserve.training.recipes import find_recipe, load_recipe\n"
        f"recipe = load_recipe(find_recipe({RECIPE!r}, {dataset!r})).override(seed={SEED}, **{arm_overrides(arm, n_layers)!r})\n"
        f"meta = train(recipe, {str(out)!r}, TrainOptions(data_dir={data_dir!r}, measure_memory=True))\n"
        "json.dump({'metrics': meta.metrics, 'provenance': meta.provenance, 'train_seconds': meta.train_seconds,\n"
        "           'peak_rss_bytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}, sys.stdout)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.PIPE, text=True)
    card = json.loads(done.stdout.strip().splitlines()[-1])
    test = next(v for k, v in card["metrics"].items() if k.startswith("test/onnx"))
    metric = card["provenance"]["metric"]
    memory = card["provenance"]["training_memory"]
    return {"dataset": dataset, "arm": arm, "metric": metric, "test": round(test[metric], 2),
            "peak_bytes": memory["peak_bytes"], "peak_static_bytes": memory["peak_static_bytes"],
            "peak_saved_activation_bytes": memory["peak_saved_activation_bytes"],
            "peak_rss_bytes": card["peak_rss_bytes"], "seconds_per_step": card["provenance"]["seconds_per_step"],
            "train_seconds": card["train_seconds"], "overrides": arm_overrides(arm, n_layers),
            "slimfit": card["provenance"].get("slimfit"), "cpu_flags": cpu_flags()}


class ArmStepper:
    """One arm's training step on a live model, outside the Trainer: what the cells run, with the same
    meter and scheduler, so that arms can be timed side by side on one batch. Its AdamW runs one rate for
    every parameter: a learning rate changes what a step does, not what it costs."""

    def __init__(self, model, arm: str, n_layers: int, interval: int = INTERVAL):
        import torch

        from biomedserve.training.slimfit import MemoryMeter, SlimFitScheduler
        from biomedserve.training.stabilise import freeze_lower

        self.model = model.train()
        if arm == "static":  # what the static cells' recipe (freeze_embeddings, freeze_layers) does in training
            freeze_lower(model, embeddings=True, k=static_layers(n_layers))
        self.optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
        self.scheduler = SlimFitScheduler(model, FREEZE_RATIO, interval) if arm == "slimfit" else None
        self.meter = MemoryMeter(quantize=arm == "slimfit" and QUANTIZE_ACTIVATIONS, skip=model.parameters())
        self.steps = 0
        self.scheduling_seconds = 0.0
        self.phases: list[dict[str, float]] = []  # per step: where its seconds went

    def step(self, inputs: dict) -> float:
        """One optimiser step; returns its seconds, SlimFit's scheduling (every ``interval`` steps)
        spread over the steps it covers."""
        import time

        if self.scheduler is not None and self.steps % self.scheduler.interval == 0:
            started = time.perf_counter()
            self.scheduler.schedule(self.steps, self.optimizer)
            self.scheduling_seconds = (time.perf_counter() - started) / self.scheduler.interval
        started = time.perf_counter()
        with self.meter.saved_tensors():
            loss = self.model(**inputs).loss
        forward = time.perf_counter()
        loss.backward()
        backward = time.perf_counter()
        self.optimizer.step()
        self.meter.observe_static(self.model, self.optimizer)
        self.optimizer.zero_grad(set_to_none=True)
        self.steps += 1
        ended = time.perf_counter()
        self.phases.append({"forward": forward - started, "backward": backward - forward,
                            "optimizer": ended - backward, "scheduling": self.scheduling_seconds})
        return ended - started + self.scheduling_seconds


def step_timing(make_model, n_layers: int, inputs: dict, rounds: int = 4, steps: int = 5) -> dict:
    """Seconds per step of each arm, interleaved: ``rounds`` rounds of ``steps`` steps per arm in turn,
    the first round a warm-up, so that load from other work on the host falls on every arm alike (the
    cells' own s/step come from runs hours apart). Median over the timed steps; SlimFit schedules every
    ``steps`` steps here, so its pattern changes between rounds, and pays its scheduling per step."""
    import statistics as stats

    steppers = {arm: ArmStepper(make_model(), arm, n_layers, interval=steps) for arm in ARMS}
    spent: dict[str, list[float]] = {arm: [] for arm in ARMS}
    for round_ in range(rounds):
        for arm, stepper in steppers.items():
            times = [stepper.step(inputs) for _ in range(steps)]
            if round_:
                spent[arm] += times
    out = {arm: {"seconds_per_step": round(stats.median(t), 4), "steps_timed": len(t),
                 "peak_bytes": steppers[arm].meter.peak_bytes,
                 # median of each phase over the timed steps: what freezing can shorten (backward,
                 # optimizer) beside what it cannot (the forward pass, the same for every arm)
                 "phases": {phase: round(stats.median(p[phase] for p in steppers[arm].phases[steps:]), 4)
                            for phase in ("forward", "backward", "optimizer", "scheduling")}}
           for arm, t in spent.items()}
    out["speedup"] = {arm: round(out["full"]["seconds_per_step"] / out[arm]["seconds_per_step"], 2)
                      for arm in ("static", "slimfit")}
    return out


def embedded_timing(batch: int = 32, tokens: int = 128) -> dict:
    """:func:`step_timing` on the embedded encoder with a token-classification head (the NER cells' model),
    one batch of ``batch`` × ``tokens`` random word pieces."""
    import torch
    from transformers import AutoModelForTokenClassification

    from biomedserve.modeling.encoders import default_encoder_path

    path = default_encoder_path()
    n_layers = json.loads((Path(path) / "config.json").read_text())["num_hidden_layers"]

    def make_model():
        torch.manual_seed(SEED)
        return AutoModelForTokenClassification.from_pretrained(path, num_labels=3)

    torch.manual_seed(SEED)
    inputs = {"input_ids": torch.randint(1000, 20000, (batch, tokens)),
              "labels": torch.randint(0, 3, (batch, tokens))}
    out = step_timing(make_model, n_layers, inputs)
    out.update({"model": "embedded MiniLM-L6, token classification", "batch": batch, "tokens": tokens,
                "cpu_flags": cpu_flags(), "torch_threads": torch.get_num_threads()})
    print(f"timing: {out['speedup']} (full {out['full']['seconds_per_step']} s/step)", flush=True)
    return out


def shape_rows(batch: int = 32, tokens: int = 128, cap_gib: float = 8.0) -> dict:
    """The BERT-base shape (random weights): counted peak per arm at ``batch`` × ``tokens``, seconds per
    step (interleaved, :func:`step_timing`), and the largest batch (powers of two, then halving the gap)
    whose counted peak fits the cap."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)

    def make_model():
        torch.manual_seed(0)
        return BertForSequenceClassification(config)

    def inputs(size: int) -> dict:
        return {"input_ids": torch.randint(1000, 20000, (size, tokens)), "labels": torch.randint(0, 2, (size,))}

    def peak(arm: str, size: int) -> int:
        stepper = ArmStepper(make_model(), arm, 12)
        stepper.step(inputs(size))
        return stepper.meter.peak_bytes

    cap = int(cap_gib * 2**30)
    timing = step_timing(make_model, 12, inputs(batch), rounds=2, steps=3)
    out = {"shape": "BERT-base (12 layers, 768 hidden), random weights", "batch": batch, "tokens": tokens,
           "memory_cap_gib": cap_gib, "arms": {}, "cpu_flags": cpu_flags()}
    for arm in ARMS:
        # doubling, then three halvings of the gap: each probe really runs a step at that batch
        size, fits = 8, 0
        while size <= 1024:
            if peak(arm, size) > cap:
                break
            fits, size = size, size * 2
        low, high = fits, size
        for _ in range(3):
            if not fits or high - low <= 1:
                break
            mid = (low + high) // 2
            low, high = (mid, high) if peak(arm, mid) <= cap else (low, mid)
        out["arms"][arm] = {"peak_bytes": timing[arm]["peak_bytes"],
                            "seconds_per_step": timing[arm]["seconds_per_step"], "largest_batch_under_cap": low}
        print(f"shape {arm}: peak {timing[arm]['peak_bytes'] / 2**30:.2f} GiB, {timing[arm]['seconds_per_step']:.2f} "
              f"s/step, batch ≤ {low} under {cap_gib} GiB", flush=True)
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def summarize(cells: dict, shape: dict | None, timing: dict | None = None) -> dict:
    """The issue's keys over the sets whose three arms are measured. ``step_speedup_cpu`` is full over
    SlimFit seconds per step from the interleaved timing (:func:`embedded_timing`) where it is measured,
    else the cells' mean; the cells' own ratio is kept beside it either way."""
    per_set = {}
    for dataset in SETS:
        arms = {arm: cells.get(f"{dataset}:{arm}") for arm in ARMS}
        if all(arms.values()):
            per_set[dataset] = arms
    if not per_set:
        return {"datasets": [], "complete": False}
    full = [a["full"] for a in per_set.values()]
    slim = [a["slimfit"] for a in per_set.values()]
    static = [a["static"] for a in per_set.values()]
    cells_speedup = round(statistics.fmean(f["seconds_per_step"] / s["seconds_per_step"] for f, s in zip(full, slim)), 2)
    return {
        "datasets": list(per_set),
        "complete": len(per_set) == len(SETS),
        "memory_reduction": round(statistics.fmean(f["peak_bytes"] / s["peak_bytes"] for f, s in zip(full, slim)), 2),
        "score_loss_mean": round(statistics.fmean(f["test"] - s["test"] for f, s in zip(full, slim)), 2),
        "score_loss_per_set": {d: round(a["full"]["test"] - a["slimfit"]["test"], 2) for d, a in per_set.items()},
        "step_speedup_cpu": timing["speedup"]["slimfit"] if timing else cells_speedup,
        "step_speedup_cpu_cells": cells_speedup,
        "beats_static_freezing": statistics.fmean(s["test"] for s in slim) >= statistics.fmean(s["test"] for s in static),
        "mean_test": {arm: round(statistics.fmean(a[arm]["test"] for a in per_set.values()), 2) for arm in ARMS},
        "freeze_ratio": FREEZE_RATIO, "interval": INTERVAL, "lr_scale": _lr_scale(slim),
        # a short run is scheduled more often (biomedserve.training.slimfit.MIN_SCHEDULES)
        "interval_in_force": {d: (a["slimfit"].get("slimfit") or {}).get("interval") for d, a in per_set.items()},
        "shape_memory_reduction": (round(shape["arms"]["full"]["peak_bytes"] / shape["arms"]["slimfit"]["peak_bytes"], 2)
                                   if shape else None),
    }


def _lr_scale(slim_cells: list[dict]) -> float | None:
    """The scheduled layers' learning-rate multiplier the SlimFit cells ran with, from their cards'
    ``slimfit.lr_scale`` (None: before it existed, the same as 1); cells disagreeing is an error, not an average."""
    scales = {(c.get("slimfit") or {}).get("lr_scale") for c in slim_cells}
    if len(scales) > 1:
        raise ValueError(f"SlimFit cells ran with different learning-rate scales {sorted(map(str, scales))}: rerun them")
    return scales.pop()


def backward_reach(pattern: dict | None) -> dict | None:
    """From a SlimFit cell's pattern: how many scheduling points there were, and at how many some unit
    of block 0 or the embeddings trained (the backward pass then reaches the bottom of the encoder,
    which static freezing never does). None without a pattern."""
    if not pattern or not pattern.get("schedules"):
        return None
    bottom = [name for name in pattern["frozen_share"]
              if name == "embeddings" or name.startswith("encoder.layer.0.")]
    points = pattern["schedules"]
    return {"points": len(points), "bottom": sum(any(n not in p["frozen"] for n in bottom) for p in points)}


def _in_force(summary: dict) -> str:
    """The intervals the cells ran at, where one differs from the one asked for."""
    from biomedserve.training.slimfit import MIN_SCHEDULES

    shortened = {d: i for d, i in (summary.get("interval_in_force") or {}).items()
                 if i is not None and i != summary.get("interval", INTERVAL)}
    if not shortened:
        return ""
    return (f" (a run shorter than {MIN_SCHEDULES} intervals is scheduled every steps // {MIN_SCHEDULES}: "
            + ", ".join(f"{d} every {i}" for d, i in shortened.items()) + ")")


def _flags(flags: list[str] | None) -> str:
    return ", ".join(flags) if flags else "not recorded"


def markdown(report: dict) -> str:
    s, cells = report["summary"], report["cells"]
    lines = ["# SlimFit vs full fine-tuning and static freezing", "",
             f"Report built {report['when']} on {report['machine'].get('cpu')} ({report['machine'].get('usable_cores')} "
             f"cores; flags {_flags(report['machine'].get('cpu_flags'))}); each row below names the flags of the host "
             f"that measured it (hosts of one kind differ, and a cell is kept across sessions). Embedded MiniLM-L6, {RECIPE} "
             f"recipes, seed {SEED}; SlimFit freeze ratio {s.get('freeze_ratio', FREEZE_RATIO)}, interval "
             f"{s.get('interval', INTERVAL)}{_in_force(s)}, the scheduled layers' learning rate × {s.get('lr_scale') or 1.0}, int8 saved activations; "
             f"static: embeddings + the lowest layers frozen at the nearest share.", "",
             "| set | arm | test | peak memory (counted) MiB | of which saved activations | peak RSS MiB | s/step | CPU flags |",
             "|---|---|---|---|---|---|---|---|"]
    for dataset in SETS:
        for arm in ARMS:
            c = cells.get(f"{dataset}:{arm}")
            if c:
                lines.append(f"| {dataset} | {arm} | {c['test']:.2f} | {c['peak_bytes'] / 2**20:.1f} | "
                             f"{c['peak_saved_activation_bytes'] / 2**20:.1f} | {c['peak_rss_bytes'] / 2**20:.0f} | "
                             f"{c['seconds_per_step']:.3f} | {_flags(c.get('cpu_flags'))} |")
            else:
                lines.append(f"| {dataset} | {arm} | not run yet | | | | | |")
    if s.get("datasets"):
        lines += ["", f"Over {', '.join(s['datasets'])}: memory **{s['memory_reduction']}×** lower than full "
                  f"fine-tuning, mean score loss **{s['score_loss_mean']:+.2f}** points ("
                  + ", ".join(f"{d} {loss:+.2f}" for d, loss in s.get("score_loss_per_set", {}).items())
                  + f"), steps **{s['step_speedup_cpu']}×** "
                  f"faster on CPU ({'interleaved timing below' if report.get('timing') else 'the cells'}; the cells' own "
                  f"s/step, from runs hours apart, on hosts whose flags differ, give {s['step_speedup_cpu_cells']}×); SlimFit {'≥' if s['beats_static_freezing'] else '<'} static freezing in mean test "
                  f"({s['mean_test']['slimfit']} vs {s['mean_test']['static']}; full {s['mean_test']['full']})."]
        targets = [("peak memory ≥ 2.0× lower", s["memory_reduction"], 2.0, True),
                   ("mean score loss ≤ 0.4 points", s["score_loss_mean"], 0.4, False),
                   ("steps ≥ 1.3× faster on CPU", s["step_speedup_cpu"], 1.3, True)]
        lines += ["", "| target | measured | met |", "|---|---|---|"]
        for what, value, bound, higher in targets:
            met = value >= bound if higher else value <= bound
            lines.append(f"| {what} | {value} | {'yes' if met else '**no**'} |")
        lines.append(f"| SlimFit at least as accurate as static freezing | {s['mean_test']['slimfit']} vs "
                     f"{s['mean_test']['static']} | {'yes' if s['beats_static_freezing'] else '**no**'} |")
    timing = report.get("timing")
    if timing:
        lines += ["", f"## Seconds per step, interleaved ({timing['model']}, batch {timing['batch']} × {timing['tokens']}, "
                  f"{timing['torch_threads']} threads; flags {_flags(timing.get('cpu_flags'))})", "",
                  "Each arm in turn for a few steps, over several rounds (the first a warm-up), on one batch: load from "
                  "other work falls on every arm alike. SlimFit's scheduling is included, spread over its interval.", "",
                  "| arm | s/step (median) | speed-up over full | forward | backward | optimizer | scheduling |",
                  "|---|---|---|---|---|---|---|"]
        for arm in ARMS:
            phases = timing[arm].get("phases")  # timings kept from before the phases were recorded lack them
            split = " | ".join(str(phases[k]) for k in ("forward", "backward", "optimizer", "scheduling")) \
                if phases else "– | – | – | –"
            lines.append(f"| {arm} | {timing[arm]['seconds_per_step']} | "
                         f"{timing['speedup'].get(arm, 1.0)}× | {split} |")
        if all(timing[arm].get("phases") for arm in ARMS):
            full, slim = timing["full"]["phases"], timing["slimfit"]["phases"]
            lines += ["", f"Phases are medians per step, in seconds. The forward pass is "
                      f"{full['forward'] / timing['full']['seconds_per_step']:.0%} of full fine-tuning's step and "
                      f"freezing leaves it as it is (SlimFit {slim['forward']} vs full {full['forward']}); "
                      f"SlimFit's backward is {slim['backward'] / full['backward']:.0%} of full's."]
    shape = report.get("shape")
    if shape:
        lines += ["", f"## {shape['shape']}, batch {shape['batch']} × {shape['tokens']} (flags {_flags(shape.get('cpu_flags'))})", "",
                  f"| arm | counted peak GiB | s/step | largest batch under {shape['memory_cap_gib']} GiB |", "|---|---|---|---|"]
        for arm, r in shape["arms"].items():
            lines.append(f"| {arm} | {r['peak_bytes'] / 2**30:.2f} | {r['seconds_per_step']} | {r['largest_batch_under_cap']} |")
    reach = [f"{d} {r['bottom']} of {r['points']}" for d in SETS
             if (r := backward_reach((cells.get(f"{d}:slimfit") or {}).get("slimfit")))]
    if reach:
        lines += ["", "Scheduling points at which some unit of the lowest block (or the embeddings) trains, so that "
                  "the backward pass runs through the whole encoder: " + ", ".join(reach) + "."]
    lines += ["", "SlimFit's freezing pattern per scheduling point is in the JSON (`cells.*.slimfit.schedules`).",
              "", "Reproduce: `python -m benchmarks.slimfit` (resumable; `--report-only` rebuilds this page).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--shape-only", action="store_true", help="the BERT-base-shaped rows alone")
    parser.add_argument("--skip-shape", action="store_true")
    parser.add_argument("--timing-only", action="store_true", help="the interleaved seconds-per-step rows alone")
    parser.add_argument("--memory-cap-gib", type=float, default=8.0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()

    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / "slimfit.json"
    report = json.loads(path.read_text()) if path.is_file() else {"cells": {}, "shape": None}
    when, machine = report_context(path, rebuilt=args.report_only)
    cells, shape, timing = report.get("cells", {}), report.get("shape"), report.get("timing")

    def write() -> None:
        out = {"benchmark": "slimfit", "when": when, "summary": summarize(cells, shape, timing), "cells": cells,
               "timing": timing, "shape": shape, "machine": machine,
               "command": "python -m benchmarks.slimfit"}
        atomic_write(path, json.dumps(out, indent=2) + "\n")
        atomic_write(args.results_dir / "slimfit.md", markdown(out))

    if not args.report_only:
        if timing is None and not args.shape_only:
            timing = embedded_timing()
            write()
        if not (args.shape_only or args.timing_only):
            with tempfile.TemporaryDirectory(prefix="slimfit-") as work:
                for dataset in args.sets:
                    for arm in args.arms:
                        key = f"{dataset}:{arm}"
                        if key not in cells:
                            print(f"measuring {key}", flush=True)
                            cells[key] = run_cell(dataset, arm, Path(work), args.data_dir)
                            write()
        if not (args.skip_shape or args.timing_only) and shape is None:
            shape = shape_rows(cap_gib=args.memory_cap_gib)
    write()
    print(json.dumps(summarize(cells, shape, timing), indent=2))


if __name__ == "__main__":
    main()
