"""Benchmark: inference speed, memory and accuracy of the runtime's backends and variants.

    python -m benchmarks.inference                 # builds what is missing, then measures
    python -m benchmarks.inference --quick         # 600 test sentences instead of all 4,797

One run measures, on the BC5-chem test sentences through the runtime ``Predictor`` (word splitting,
windowing, length-sorted batches of up to 64, decoding — what users get):

* the fine-tuned MiniLM NER model (``models/bc5chem-minilm``): PyTorch fp32 eager, ORT fp32,
  ORT O2, ORT int8, ORT O2+int8, and the 2-layers-pruned model (``models/bc5chem-minilm-pruned2``)
  with int8 — sentences/s, words/s, batch-1 p50/p99 latency, peak RSS, test F1;
* a BERT-base-shaped model (12 layers, hidden 768, vocab 30522, random weights: the PubMedBERT
  shape) and its 6-layer pruned form, for throughput only;
* on a CUDA machine, additionally CUDA fp32/fp16 at batch sizes up to 256.

Each configuration runs in its own process, so peak RSS is its own. This machine is shared and a
single pass varies by ±20%, so the MiniLM configurations run in ``--rounds`` interleaved rounds
(round 1 also scores F1 and latency) and each reports its **median** sentences/s, with every round's
figure beside it: a speed-up is then a ratio of medians taken over the same stretch of time.

Results: ``benchmarks/results/inference_cpu.json`` + ``inference_cpu.md`` (and ``inference_gpu.json``
+ ``.md`` when a CUDA GPU is present).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MODEL = Path("models/bc5chem-minilm")
PRUNED = Path("models/bc5chem-minilm-pruned2")
SHAPES = Path("runs/bench-shapes")
PUBMED_ABSTRACTS = 36_000_000


# ---------------------------------------------------------------- one configuration, in a child process
def measure(config: dict) -> dict:
    from biomedserve.data.registry import get_dataset
    from biomedserve.runtime import Predictor
    from biomedserve.tasks.ner import entity_scores, type_tags

    spec = get_dataset("BC5-chem")
    sentences = spec.load("test")
    if config.get("limit"):
        sentences = sentences[: config["limit"]]
    words = [s.tokens for s in sentences]
    predictor = Predictor.from_dir(config["model"], backend=config["backend"], variant=config.get("variant", "fp32"),
                                   providers=config.get("providers"), streams=config.get("streams", 1))
    predictor.max_batch_size = config.get("batch_size", 64)
    predictor.max_tokens_per_batch = max(16384, 128 * predictor.max_batch_size)
    predictor.predict_words(words[:64])  # warm-up: allocations, lazy kernels
    started = time.perf_counter()
    tagged = predictor.predict_words(words)
    seconds = time.perf_counter() - started
    n_words = sum(len(w) for w in words)
    result = {
        **config,
        "graph": predictor.variant if config["backend"] == "onnx" else "pytorch",
        "providers": predictor.backend.providers,
        "sentences": len(words),
        "sentences_per_s": round(len(words) / seconds, 1),
        "words_per_s": round(n_words / seconds, 1),
    }
    if config.get("score", True):
        gold = [type_tags(s.tags, spec.entity_type) for s in sentences]
        result["f1"] = round(entity_scores(gold, [t.tags for t in tagged])["f1"], 2)
    if config.get("latency", True):
        latencies = []
        for w in words[:200]:
            t = time.perf_counter()
            predictor.predict_words([w])
            latencies.append(1000 * (time.perf_counter() - t))
        latencies.sort()
        result["p50_ms"] = round(statistics.median(latencies), 2)
        result["p99_ms"] = round(latencies[int(0.99 * (len(latencies) - 1))], 2)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def peak_rss_mb() -> float:
    """This process's own peak RSS. (``ru_maxrss`` is inherited across fork+exec on Linux, so a child
    would report its parent's peak; ``VmHWM`` belongs to the address space and starts afresh.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_child(config: dict) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.inference", "--child", json.dumps(config)],
                         capture_output=True, text=True, cwd=HERE.parent)
    if out.returncode != 0:
        return {**config, "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_fixed_shape(config: dict) -> dict:
    """Throughput of the bare backend on fixed-shape batches (``batch_size`` × ``tokens``): the GPU
    rows, where the question is what the device sustains, not what one corpus's lengths give."""
    import numpy as np

    from biomedserve.runtime import Predictor

    predictor = Predictor.from_dir(config["model"], backend="onnx", variant=config["variant"],
                                   providers=config["providers"])
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 29000, size=(config["batch_size"], config["tokens"]), dtype=np.int64)
    batch = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    for _ in range(5):  # warm-up: cuDNN/cuBLAS algorithm choice, arena growth
        predictor.backend(batch)
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < config.get("seconds", 5) or calls < 10:
        predictor.backend(batch)  # returns host logits: each call includes the copy back
        calls += 1
    seconds = time.perf_counter() - started
    return {**config, "providers": predictor.backend.providers,
            "sentences_per_s": round(calls * config["batch_size"] / seconds, 1)}


def timed_rounds(group: str, configs: list[tuple[str, dict]], common: dict, rounds: int, log) -> list[dict]:
    """Each configuration once per round, rounds interleaved; report the median sentences/s.

    Round 1 keeps everything (F1, latency, RSS); later rounds only time the throughput pass.
    """
    rows: dict[str, dict] = {}
    for round_no in range(1, rounds + 1):
        for name, config in configs:
            extra = {} if round_no == 1 else {"score": False, "latency": False}
            log(f"[round {round_no}/{rounds}] {group}: {name}")
            result = run_child({**config, **common, **extra})
            if round_no == 1:
                rows[name] = {"group": group, "name": name, **result, "rounds": []}
            if "sentences_per_s" in result:
                rows[name]["rounds"].append(result["sentences_per_s"])
            log(f"    {json.dumps({k: result.get(k) for k in ('sentences_per_s', 'f1', 'p50_ms', 'error')})}")
    for row in rows.values():
        if row["rounds"]:
            per_word = row["words_per_s"] / row["sentences_per_s"]
            row["sentences_per_s"] = round(statistics.median(row["rounds"]), 1)
            row["words_per_s"] = round(row["sentences_per_s"] * per_word, 1)
    return list(rows.values())


def measure_gpu(shape12: Path, log) -> list[dict]:
    """BERT-base shape on CUDA: fp32 and fp16 (and TensorRT fp16 when it is installed), 128 tokens."""
    import onnxruntime as ort

    from biomedserve.export.variants import optimize_graph
    from biomedserve.modeldir.card import VariantRecord, read_meta, write_meta

    fp16 = shape12 / "model.fp16.onnx"
    if not fp16.is_file():
        log("building the fp16 (O4) graph of the BERT-base shape…")
        optimize_graph(shape12 / "model.onnx", shape12, "O4", for_gpu=True, target=fp16)
        meta = read_meta(shape12)
        meta.variants["fp16"] = VariantRecord(name="fp16", graph_file=fp16.name, optimize="O4", fp16=True)
        write_meta(shape12, meta)
    cuda = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    engines = [("CUDA fp32", "fp32", cuda), ("CUDA fp16", "fp16", cuda)]
    if "TensorrtExecutionProvider" in ort.get_available_providers():
        engines.append(("TensorRT fp16", "fp16", ["TensorrtExecutionProvider", *cuda]))
    rows = []
    for name, variant, providers in engines:
        for batch in (1, 8, 32, 64, 128, 256):
            log(f"GPU: BERT-base shape, {name}, batch {batch}")
            result = run_child({"model": str(shape12), "variant": variant, "providers": providers,
                                "batch_size": batch, "tokens": 128, "fixed_shape": True})
            rows.append({"group": "GPU, BERT-base shape, 128 tokens", "name": f"{name}, batch {batch}", **result})
            log(f"    {rows[-1].get('sentences_per_s')} sentences/s {rows[-1].get('error', '')}")
    return rows


def write_gpu_report(rows: list[dict], machine: dict, words_per_abstract: float) -> None:
    fp16 = [r for r in rows if "fp16" in r["name"] and "sentences_per_s" in r]
    best = max(fp16, key=lambda r: r["sentences_per_s"]) if fp16 else {}
    summary = {"bertbase_fp16_seq_per_s_128": best.get("sentences_per_s"), "best_config": best.get("name"),
               "device": machine.get("gpu"),
               # an abstract of ~280 words is ~2.9 windows of 128 tokens
               "pubmed_hours_bertbase_fp16": (round(PUBMED_ABSTRACTS * words_per_abstract * 1.3 / 128
                                                    / best["sentences_per_s"] / 3600, 2) if best else None)}
    report = {"benchmark": "inference_gpu", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "summary": summary, "rows": rows, "machine": machine, "command": "python -m benchmarks.inference"}
    (RESULTS / "inference_gpu.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["# GPU inference: BERT-base shape, 128-token sequences", "",
             f"Run {report['when']} on {machine.get('gpu')}. Bare backend on fixed-shape batches (host copies "
             "included). Random weights: throughput only.", "", "| configuration | sequences/s |", "|---|---|"]
    lines += [f"| {r['name']} | {r.get('sentences_per_s', 'error: ' + str(r.get('error')))} |" for r in rows]
    lines += ["", f"- Best fp16: **{summary['bertbase_fp16_seq_per_s_128']} sequences/s** ({summary['best_config']}).",
              f"- Projected 36M PubMed abstracts (~1.3 tokens/word, {words_per_abstract} words each): "
              f"**{summary['pubmed_hours_bertbase_fp16']} hours**.", ""]
    (RESULTS / "inference_gpu.md").write_text("\n".join(lines))


# ---------------------------------------------------------------- building what the run needs
def ensure_models(log) -> None:
    """Train the pruned model and build the variants if they are missing (each gated on dev)."""
    from biomedserve.export.variants import VariantPlan, build_variant
    from biomedserve.modeldir.card import read_meta

    if not (MODEL / "biomedserve.json").is_file():
        raise SystemExit(f"{MODEL} is missing: run `biomedserve quickstart` (or benchmarks/ner_default.py) first")
    if not (PRUNED / "biomedserve.json").is_file():
        log(f"training {PRUNED} (recipe train/BC5-chem/pruned2.yaml)…")
        subprocess.run([sys.executable, "-m", "biomedserve.cli", "train", "-d", "BC5-chem", "-r", "pruned2",
                        "--out", str(PRUNED), "--overwrite"], check=True)
    for model, plans in ((MODEL, [VariantPlan(optimize="O2"), VariantPlan(quantize="int8"),
                                  VariantPlan(optimize="O2", quantize="int8")]),
                         (PRUNED, [VariantPlan(quantize="int8")])):
        for plan in plans:
            if plan.name not in read_meta(model).variants:
                log(f"building {model.name} {plan.name}…")
                build_variant(model, plan, progress=False, log=log)


def ensure_shape(layers: int, log) -> Path:
    """A random BERT-base-shaped NER model directory with ONNX fp32 and int8 graphs."""
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from biomedserve.export.onnx import export_onnx
    from biomedserve.export.variants import QuantRemedy, cpu_isa, quantize_int8
    from biomedserve.modeldir.card import ModelMeta, write_meta

    path = SHAPES / f"bert-base-{layers}l"
    if (path / "model.int8.onnx").is_file():
        return path
    log(f"building the BERT-base shape with {layers} layers (random weights)…")
    path.mkdir(parents=True, exist_ok=True)
    labels = ["O", "B-CHEMICAL", "I-CHEMICAL"]
    config = BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=layers, num_attention_heads=12,
                        intermediate_size=3072, num_labels=3, id2label=dict(enumerate(labels)),
                        label2id={label: i for i, label in enumerate(labels)})
    BertForTokenClassification(config).save_pretrained(path)
    AutoTokenizer.from_pretrained(str(MODEL)).save_pretrained(path)
    export_onnx(path, "token-classification")
    quantize_int8(path / "model.onnx", path, cpu_isa(), QuantRemedy("per-channel", per_channel=True),
                  path / "model.int8.onnx")
    meta = ModelMeta(name=path.name, task="ner", dataset="BC5-chem", labels=labels, max_length=512,
                     base_model="random BertConfig (BERT-base shape)", recipe={},
                     variants={"int8": {"file": "model.int8.onnx", "quantize": "int8", "passed": None}})
    write_meta(path, meta)
    return path


# ---------------------------------------------------------------- the run
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="600 test sentences instead of all")
    parser.add_argument("--shape-sentences", type=int, default=1000,
                        help="test sentences for the BERT-base-shape rows (default 1000)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved timing rounds per configuration; the median is reported (default 3)")
    args = parser.parse_args()
    if args.child:
        config = json.loads(args.child)
        print(json.dumps(measure_fixed_shape(config) if config.get("fixed_shape") else measure(config)))
        return

    from benchmarks.machine import describe
    from biomedserve.runtime.backends import GPU_PROVIDERS

    log = lambda m: print(m, flush=True)  # noqa: E731
    ensure_models(log)
    limit = 600 if args.quick else None
    import onnxruntime as ort

    gpu = any(p in ort.get_available_providers() for p in GPU_PROVIDERS)
    cpu = ["CPUExecutionProvider"]
    rows = []
    minilm = [
        ("PyTorch fp32 (eager)", {"model": str(MODEL), "backend": "torch"}),
        ("ORT fp32", {"model": str(MODEL), "backend": "onnx", "variant": "fp32", "providers": cpu}),
        ("ORT O2", {"model": str(MODEL), "backend": "onnx", "variant": "o2", "providers": cpu}),
        ("ORT int8", {"model": str(MODEL), "backend": "onnx", "variant": "int8", "providers": cpu}),
        ("ORT O2 + int8", {"model": str(MODEL), "backend": "onnx", "variant": "o2-int8", "providers": cpu}),
        ("ORT int8, 2 streams", {"model": str(MODEL), "backend": "onnx", "variant": "int8", "providers": cpu,
                                 "streams": 2}),
        ("ORT O2 + int8, 2 streams", {"model": str(MODEL), "backend": "onnx", "variant": "o2-int8",
                                      "providers": cpu, "streams": 2}),
        ("pruned (4 layers) + ORT int8", {"model": str(PRUNED), "backend": "onnx", "variant": "int8", "providers": cpu}),
        ("pruned (4 layers) + ORT int8, 2 streams", {"model": str(PRUNED), "backend": "onnx", "variant": "int8",
                                                     "providers": cpu, "streams": 2}),
    ]
    rows += timed_rounds("MiniLM NER (fine-tuned)", minilm, {"limit": limit}, args.rounds, log)

    shape12, shape6 = ensure_shape(12, log), ensure_shape(6, log)
    shape_rows = [
        ("BERT-base shape, PyTorch fp32", {"model": str(shape12), "backend": "torch"}),
        ("BERT-base shape, ORT fp32", {"model": str(shape12), "backend": "onnx", "variant": "fp32", "providers": cpu}),
        ("BERT-base shape, ORT int8", {"model": str(shape12), "backend": "onnx", "variant": "int8", "providers": cpu}),
        ("6-layer pruned shape, ORT int8", {"model": str(shape6), "backend": "onnx", "variant": "int8", "providers": cpu}),
        ("6-layer pruned shape, ORT int8, 2 streams", {"model": str(shape6), "backend": "onnx", "variant": "int8",
                                                       "providers": cpu, "streams": 2}),
    ]
    rows += timed_rounds("BERT-base shape (random weights, throughput only)", shape_rows,
                         {"limit": args.shape_sentences, "score": False, "latency": False}, args.rounds, log)

    gpu_rows = measure_gpu(shape12, log) if gpu else []

    by_name = {r["name"]: r for r in rows}
    base = by_name["PyTorch fp32 (eager)"]

    def speedup(name: str, ref: dict) -> float | None:
        row = by_name.get(name, {})
        return round(row["sentences_per_s"] / ref["sentences_per_s"], 2) if "sentences_per_s" in row and "sentences_per_s" in ref else None

    words_per_abstract = mean_abstract_words()
    machine = describe()
    hardware = f"{machine['cpu']}, {machine['usable_cores']} cores, {machine['memory_gib']} GiB"
    fastest = max((r for r in rows if r["group"].startswith("MiniLM") and "words_per_s" in r), key=lambda r: r["words_per_s"])
    minilm_int8 = [r for r in rows if r["group"].startswith("MiniLM") and "int8" in r["name"]
                   and "pruned" not in r["name"] and "sentences_per_s" in r]
    best_int8 = max(minilm_int8, key=lambda r: r["sentences_per_s"]) if minilm_int8 else {}
    shape_int8 = [r for r in rows if r["name"].startswith("6-layer") and "sentences_per_s" in r]
    best_shape = max(shape_int8, key=lambda r: r["sentences_per_s"])["name"] if shape_int8 else None
    summary = {
        "minilm_int8_speedup": speedup(best_int8["name"], base) if best_int8 else None,
        "minilm_int8_f1_loss": round(base["f1"] - best_int8["f1"], 2) if "f1" in best_int8 else None,
        "bertbase_pruned6_int8_speedup": (speedup(best_shape, by_name["BERT-base shape, PyTorch fp32"])
                                          if best_shape else None),
        "hardware": hardware,
        "rounds": args.rounds,
        "best_int8": best_int8.get("name"),
        "best_int8_vs_pytorch": speedup(best_int8["name"], base) if best_int8 else None,
        "best_int8_f1_loss": round(base["f1"] - best_int8["f1"], 2) if "f1" in best_int8 else None,
        "int8_vs_pytorch": speedup("ORT int8", base),
        "o2_int8_vs_pytorch": speedup("ORT O2 + int8", base),
        "int8_f1_loss": round(base["f1"] - by_name["ORT int8"]["f1"], 2) if "f1" in by_name.get("ORT int8", {}) else None,
        "o2_int8_f1_loss": round(base["f1"] - by_name["ORT O2 + int8"]["f1"], 2) if "f1" in by_name.get("ORT O2 + int8", {}) else None,
        "pruned_int8_vs_pytorch": speedup("pruned (4 layers) + ORT int8", base),
        "bert_base_pruned_int8_vs_pytorch": speedup(best_shape, by_name["BERT-base shape, PyTorch fp32"]) if best_shape else None,
        "bert_base_pruned_int8_config": best_shape,
        "mean_words_per_abstract": words_per_abstract,
        "pubmed_hours_fastest_cpu": round(PUBMED_ABSTRACTS * words_per_abstract / fastest["words_per_s"] / 3600, 1),
        "fastest_cpu": fastest["name"],
        "gpu": gpu,
    }
    report = {"benchmark": "inference", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "summary": summary, "rows": rows, "machine": machine,
              "command": "python -m benchmarks.inference" + (" --quick" if args.quick else "")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "inference_cpu.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "inference_cpu.md").write_text(markdown(report))
    print((RESULTS / "inference_cpu.md").read_text())
    if gpu_rows:
        write_gpu_report(gpu_rows, machine, words_per_abstract)


def mean_abstract_words() -> float:
    """Mean words per real PubMed abstract (the HoC test abstracts), for the 36M-abstract projection."""
    from biomedserve.data.registry import get_dataset
    from biomedserve.text.words import split_words

    docs = get_dataset("HoC").load("test")
    return round(statistics.fmean(sum(len(split_words(s)) for s in d.sentences) for d in docs), 1)


def markdown(report: dict) -> str:
    m, s = report["machine"], report["summary"]
    lines = [
        "# Inference speed, memory and accuracy",
        "",
        f"Run {report['when']} on {m['cpu']} ({m['usable_cores']} cores, flags: {', '.join(m['cpu_flags'])}), "
        f"{'with' if s['gpu'] else 'no'} GPU. `{report['command']}`.",
        "BC5-chem test sentences through the runtime Predictor (length-sorted batches of up to 64). "
        f"Sentences/s is the median of {s.get('rounds', 1)} interleaved rounds (each round's figure in the last column).",
        "",
        "| model | configuration | sentences/s | words/s | speed-up | batch-1 p50 ms | p99 ms | peak RSS MB | test F1 | rounds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    refs = {}
    for r in report["rows"]:
        refs.setdefault(r["group"], r)
        ref = refs[r["group"]]
        if "error" in r:
            lines.append(f"| {r['group']} | {r['name']} | error: {r['error']} ||||||||")
            continue
        sp = r["sentences_per_s"] / ref["sentences_per_s"] if "sentences_per_s" in ref else float("nan")
        lines.append(f"| {r['group']} | {r['name']} | {r['sentences_per_s']} | {r['words_per_s']} | {sp:.2f}× | "
                     f"{r.get('p50_ms', '–')} | {r.get('p99_ms', '–')} | {r['peak_rss_mb']} | {r.get('f1', '–')} | "
                     f"{', '.join(map(str, r.get('rounds', [])))} |")
    lines += ["", "Speed-up is against the first row of the same group (PyTorch fp32, 2 threads). \"2 streams\": two "
              "batches in flight, each ONNX Runtime call on one thread (`Predictor.from_dir(..., streams=2)`).", "",
              f"- ORT int8 vs PyTorch fp32: **{s['int8_vs_pytorch']}×** ({s['int8_f1_loss']} F1 points lost); "
              f"O2 + int8: **{s['o2_int8_vs_pytorch']}×** ({s['o2_int8_f1_loss']} lost); best int8 configuration "
              f"({s['best_int8']}): **{s['best_int8_vs_pytorch']}×** ({s['best_int8_f1_loss']} lost).",
              f"- BERT-base shape: {s['bert_base_pruned_int8_config']} vs 12-layer PyTorch fp32: "
              f"**{s['bert_base_pruned_int8_vs_pytorch']}×**.",
              f"- Projected time to annotate 36M PubMed abstracts ({s['mean_words_per_abstract']} words each, the HoC "
              f"test mean) with {s['fastest_cpu']} on this machine: **{s['pubmed_hours_fastest_cpu']} hours**.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
