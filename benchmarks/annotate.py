"""Benchmark: bulk annotation throughput (local vs Ray, fp32 vs int8) and the kill/resume test.

    python -m benchmarks.annotate                          # 2,000 abstracts (the committed results: --docs 800)
    python -m benchmarks.annotate --docs 500 --kill-docs 150 --kill-points 3    # quicker

The corpus is real PubMed abstracts: the PubMedQA (title = the question, abstract = its labelled
sections + conclusion) and HoC abstracts of the BLURB data directory, written at benchmark time as
PubMed-style XML (``.xml.gz`` files of 500 articles, structured ``AbstractText`` with labels) and as
one JSONL file, in a temporary directory. Repeated (with new PMIDs) if more documents are asked
for than there are.

It measures, on the same XML corpus and the same model (``models/bc5chem-minilm``):

* the readers alone (XML and JSONL documents/s, no model);
* ``biomedserve annotate`` through the local engine and the Ray engine (a local Ray instance, one
  single-threaded actor per core), for the fp32 and int8 variants: documents/s and words/s (words:
  whitespace-separated tokens of title + abstract) in steady state — from the start of the first
  model call to the end of the last, so model loading and Ray start-up are left out (they are
  reported apart, with the whole-run rate) — and whether the Ray output is byte-identical to the
  local one;
* the projected hours for PubMed's ~36M abstracts on this machine at the fastest rate;
* the kill test: the CLI is started as a subprocess and SIGKILLed at random points (alternately
  after a random number of committed chunks and after a random delay), re-run to completion,
  and the output compared byte for byte with an uninterrupted run.

Writes ``benchmarks/results/annotate.json`` (top-level ``summary``, machine, runs, kill points) and
``annotate.md``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MODEL = Path("models/bc5chem-minilm")
PUBMED_ABSTRACTS = 36_000_000
XML_FILE_SIZE = 500


# ---------------------------------------------------------------- the corpus
def real_abstracts() -> list[dict]:
    """PubMedQA and HoC abstracts as {pmid, title, sections: [(label, text)]}, PMIDs unique."""
    from biomedserve.data.location import resolve_data_dir
    from biomedserve.data.registry import get_dataset

    data = resolve_data_dir()
    docs: dict[str, dict] = {}
    for name in ("train_set.json", "dev_set.json", "test_set.json"):
        path = data / "PubMedQA" / name
        if not path.is_file():
            continue
        for pmid, item in json.loads(path.read_text(encoding="utf-8")).items():
            labels = item.get("LABELS") or [None] * len(item["CONTEXTS"])
            sections = list(zip(labels, item["CONTEXTS"]))
            if item.get("LONG_ANSWER"):
                sections.append(("CONCLUSIONS", item["LONG_ANSWER"]))
            docs.setdefault(str(pmid), {"pmid": str(pmid), "title": item["QUESTION"], "sections": sections})
    hoc = get_dataset("HoC")
    for split in hoc.available_splits():
        for doc in hoc.load(split):
            docs.setdefault(doc.id, {"pmid": doc.id, "title": "", "sections": [(None, " ".join(doc.sentences))]})
    return list(docs.values())


def corpus(n: int, seed: int) -> list[dict]:
    base = real_abstracts()
    random.Random(seed).shuffle(base)
    out = []
    for i in range(n):
        doc = dict(base[i % len(base)])
        copy = i // len(base)
        if copy:
            doc["pmid"] = str(copy * 100_000_000 + int(doc["pmid"]))
        out.append(doc)
    return out


def words(doc: dict) -> int:
    return len(doc["title"].split()) + sum(len(text.split()) for _, text in doc["sections"])


def write_xml(docs: list[dict], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number, start in enumerate(range(0, len(docs), XML_FILE_SIZE), 1):
        articles = []
        for doc in docs[start:start + XML_FILE_SIZE]:
            sections = "".join(
                f"<AbstractText{' Label=' + quoteattr(label) if label else ''}>{escape(text)}</AbstractText>"
                for label, text in doc["sections"])
            articles.append(
                f"<PubmedArticle><MedlineCitation Status=\"MEDLINE\"><PMID Version=\"1\">{doc['pmid']}</PMID>"
                f"<Article><ArticleTitle>{escape(doc['title'])}</ArticleTitle><Abstract>{sections}</Abstract>"
                f"</Article></MedlineCitation></PubmedArticle>\n")
        text = '<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>\n' + "".join(articles) + "</PubmedArticleSet>\n"
        (folder / f"pubmedbench{number:04d}.xml.gz").write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    return folder


def write_jsonl(docs: list[dict], path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for doc in docs:
            abstract = " ".join(text for _, text in doc["sections"])
            handle.write(json.dumps({"id": doc["pmid"], "title": doc["title"], "abstract": abstract},
                                    ensure_ascii=False) + "\n")
    return path


# ---------------------------------------------------------------- measurements
def measure_readers(xml_dir: Path, jsonl: Path) -> dict:
    from biomedserve.data.document_readers import read_items, resolve_inputs

    result = {}
    for name, target in (("pubmed_xml_gz", xml_dir), ("jsonl", jsonl)):
        started = time.perf_counter()
        n = sum(1 for source in resolve_inputs([str(target)]) for _ in read_items(source))
        seconds = time.perf_counter() - started
        result[name] = {"documents": n, "seconds": round(seconds, 3), "docs_per_s": round(n / seconds, 1)}
    return result


class Timed:
    """Wraps an engine and keeps each group's model-call span (``Annotated.timing``) and document count."""

    def __init__(self, engine):
        self.engine = engine
        self.name = engine.name
        self.spans: list[tuple[float, float, int]] = []

    def run(self, *args):
        for group in self.engine.run(*args):
            self.spans.append((*group.timing, sum(1 for e in group.entries if "line" in e)))
            yield group

    def run_job(self, config, out: Path, progress: bool = False):
        """Run one annotate job on this engine and close it; the job summary and its wall seconds."""
        from biomedserve.annotate.job import Job

        started = time.time()
        try:
            summary = Job(config, out, progress=progress).run(self)
        finally:
            self.close()
        return summary, time.time() - started, started

    def steady_docs_per_s(self, documents: int) -> tuple[float, float]:
        """Documents/s from the first model call to the end of the last (over all actors / the
        process: model loading, Ray start-up and reading ahead of the first call are outside it),
        and the time of that first call."""
        first_call = min(t0 for t0, _, _ in self.spans)
        span = max(t1 for _, t1, _ in self.spans) - first_call
        return (documents / span if span > 0 else float("nan")), first_call

    def close(self):
        if hasattr(self.engine, "close"):
            self.engine.close()


def measure_engine(engine_name: str, variant: str, xml_dir: Path, out: Path, n_words: int, group_size: int,
                   chunk_size: int) -> dict:
    from biomedserve.annotate.annotator import ModelSpec, order_models
    from biomedserve.annotate.job import JobConfig
    from biomedserve.data.document_readers import resolve_inputs

    specs, infos = order_models([ModelSpec(str(MODEL), variant)])
    config = JobConfig(resolve_inputs([str(xml_dir)]), specs, infos, "jsonl", group_size, chunk_size)
    if engine_name == "ray":
        from biomedserve.annotate.ray_engine import RayEngine

        engine = Timed(RayEngine(cpus_per_actor=1))
    else:
        from biomedserve.annotate.local import LocalEngine

        engine = Timed(LocalEngine())
    summary, total, started = engine.run_job(config, out)
    docs_per_s, first_call = engine.steady_docs_per_s(summary.documents)
    words_per_doc = n_words / summary.documents
    return {
        "engine": engine_name, "variant": variant, "model_version": infos[0].version,
        "documents": summary.documents, "entities": summary.entities,
        "docs_per_s": round(docs_per_s, 2), "words_per_s": round(docs_per_s * words_per_doc, 1),
        "docs_per_s_incl_startup": round(summary.documents / total, 2),
        "startup_s": round(first_call - started, 2), "total_s": round(total, 2),
        "model_busy_s": round(sum(t1 - t0 for t0, t1, _ in engine.spans), 2),
        "settings": ({"actors": engine.engine.actors, "threads_per_actor": engine.engine.cpus_per_actor}
                     if engine_name == "ray" else {"threads": "all cores", "prefetch_groups": engine.engine.prefetch_groups}),
        "output": str(out),
    }


# ---------------------------------------------------------------- the kill test
def cli(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-m", "biomedserve.cli", "annotate", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def kill_test(xml_dir: Path, work: Path, points: int, variant: str, seed: int, log) -> dict:
    common = [str(xml_dir), "-m", str(MODEL), "--variant", variant, "--group-size", "16", "--chunk-size", "32",
              "--no-progress"]
    reference = work / "reference.jsonl"
    started = time.perf_counter()
    process = cli([*common, "-o", str(reference)])
    _, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"reference run failed: {stderr.decode()[-2000:]}")
    wall = time.perf_counter() - started
    finished = json.loads((work / "reference.jsonl.parts" / "finished.json").read_text())
    n_chunks = finished["chunks"]
    log(f"  reference run: {wall:.1f} s, {n_chunks} chunks")
    rng = random.Random(seed)
    results = []
    for point in range(points):
        out = work / f"killed{point}.jsonl"
        parts = work / f"killed{point}.jsonl.parts"
        mode = "after_chunks" if point % 2 == 0 else "after_delay"
        target_chunks = rng.randint(1, max(1, n_chunks - 1))
        delay = rng.uniform(0.2, 0.95) * wall
        process = cli([*common, "-o", str(out)])
        t0 = time.perf_counter()
        killed = False
        while process.poll() is None:
            done = len(list(parts.glob("chunk-*.done.json"))) if parts.is_dir() else 0
            if (mode == "after_chunks" and done >= target_chunks) or (
                    mode == "after_delay" and time.perf_counter() - t0 >= delay):
                process.send_signal(signal.SIGKILL)
                process.wait()
                killed = True
                break
            time.sleep(0.01)
        at_kill = len(list(parts.glob("chunk-*.done.json"))) if parts.is_dir() else 0
        killed_at = time.perf_counter() - t0
        t1 = time.perf_counter()
        rerun = cli([*common, "-o", str(out)])
        _, stderr = rerun.communicate()
        identical = (rerun.returncode == 0 and out.read_bytes() == reference.read_bytes()
                     and (work / f"killed{point}.jsonl.errors.jsonl").read_bytes()
                     == (work / "reference.jsonl.errors.jsonl").read_bytes())
        row = {"point": point + 1, "mode": mode,
               "target": target_chunks if mode == "after_chunks" else round(delay, 2),
               "killed": killed, "killed_after_s": round(killed_at, 2), "chunks_committed_at_kill": at_kill,
               "chunks_total": n_chunks, "resume_s": round(time.perf_counter() - t1, 2),
               "rerun_returncode": rerun.returncode, "identical": identical}
        if rerun.returncode != 0:
            row["rerun_error"] = stderr.decode()[-1000:]
        log(f"  kill point {point + 1}: {json.dumps(row)}")
        results.append(row)
    return {"variant": variant, "documents": finished["documents"], "reference_wall_s": round(wall, 2),
            "chunk_size": 32, "group_size": 16, "points": results}


# ---------------------------------------------------------------- report
def write_report(report: dict, results_dir: Path) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "annotate.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    s, m = report["summary"], report["machine"]
    lines = [
        "# Bulk annotation: `biomedserve annotate`", "",
        f"{report['corpus']['documents']} real PubMed abstracts (PubMedQA + HoC, {report['corpus']['words_per_doc']:.0f} "
        f"words each on average) as PubMed XML (.xml.gz), model `{MODEL}`; {m['cpu']}, {m['usable_cores']} usable cores, "
        f"{m['memory_gib']} GiB. {report['created']}.", "",
        "## Summary", "",
        f"- local engine: **{s['docs_per_s_local']} documents/s**; Ray engine: **{s['docs_per_s_ray']} documents/s** "
        f"(fastest variant, steady state)",
        f"- projected time for {PUBMED_ABSTRACTS / 1e6:.0f}M abstracts on this machine: "
        f"**{s['hours_36m_abstracts_here']} hours**",
        f"- Ray output byte-identical to local: **{s['engines_identical']}**",
        f"- kill/resume ({s['kill_points']} random SIGKILL points) byte-identical to an uninterrupted run: "
        f"**{s['kill_resume_identical']}**", "",
        "## Throughput", "",
        "| engine | variant | documents/s | words/s | incl. start-up | start-up s | total s | identical to local |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report["runs"]:
        lines.append(f"| {row['engine']} | {row['variant']} | {row['docs_per_s']} | {row['words_per_s']} | "
                     f"{row['docs_per_s_incl_startup']} | {row['startup_s']} | {row['total_s']} | "
                     f"{row.get('identical_to_local', '–')} |")
    lines += ["", "Steady state: from the start of the first model call to the end of the last (model loading and Ray "
              "start-up excluded); \"incl. start-up\" divides by the whole run.",
              "Local: one process, ONNX Runtime on all cores, XML parsed on a reader thread. Ray: a local Ray instance, "
              "one single-threaded actor per core.", "",
              "## Readers alone", "", "| input | documents/s |", "|---|---|"]
    for name, row in report["readers"].items():
        lines.append(f"| {name} | {row['docs_per_s']} |")
    kill = report["kill_test"]
    lines += ["", "## Kill test", "",
              f"{kill['documents']} documents, {kill['variant']}, chunks of {kill['chunk_size']} items; the CLI "
              "SIGKILLed, re-run to completion, compared byte for byte (output and errors file).", "",
              "| point | mode | target | killed after s | chunks committed | resume s | identical |",
              "|---|---|---|---|---|---|---|"]
    for row in kill["points"]:
        lines.append(f"| {row['point']} | {row['mode']} | {row['target']} | {row['killed_after_s']} | "
                     f"{row['chunks_committed_at_kill']}/{row['chunks_total']} | {row['resume_s']} | {row['identical']} |")
    (results_dir / "annotate.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000, help="abstracts in the throughput corpus")
    parser.add_argument("--kill-docs", type=int, default=200, help="abstracts in the kill-test corpus")
    parser.add_argument("--kill-points", type=int, default=5)
    parser.add_argument("--variants", default="fp32,int8")
    parser.add_argument("--engines", default="local,ray")
    parser.add_argument("--group-size", type=int, default=64)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the temporary corpus and outputs")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from benchmarks.machine import describe

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    work = Path(tempfile.mkdtemp(prefix="annotate-bench-"))
    try:
        docs = corpus(args.docs, args.seed)
        n_words = sum(words(d) for d in docs)
        xml_dir = write_xml(docs, work / "xml")
        jsonl = write_jsonl(docs, work / "corpus.jsonl")
        log(f"corpus: {len(docs)} abstracts, {n_words} words, in {work}")
        readers = measure_readers(xml_dir, jsonl)
        log(f"readers: {json.dumps(readers)}")
        runs = []
        for variant in args.variants.split(","):
            for engine in args.engines.split(","):
                log(f"annotating: {engine} {variant}")
                row = measure_engine(engine, variant, xml_dir, work / f"{engine}-{variant}.jsonl", n_words,
                                     args.group_size, args.chunk_size)
                log(f"  {json.dumps({k: row[k] for k in ('docs_per_s', 'words_per_s', 'startup_s', 'total_s')})}")
                runs.append(row)
        for row in runs:
            local = next((r for r in runs if r["engine"] == "local" and r["variant"] == row["variant"]), None)
            if row["engine"] != "local" and local is not None:
                row["identical_to_local"] = Path(row["output"]).read_bytes() == Path(local["output"]).read_bytes()
        kill_variant = "int8" if "int8" in args.variants.split(",") else args.variants.split(",")[0]
        log(f"kill test: {args.kill_points} points, {args.kill_docs} documents, {kill_variant}")
        kill_dir = write_xml(corpus(args.kill_docs, args.seed + 1), work / "kill-xml")
        kill = kill_test(kill_dir, work, args.kill_points, kill_variant, args.seed, log)

        def best(engine: str) -> float | None:
            rates = [r["docs_per_s"] for r in runs if r["engine"] == engine]
            return max(rates) if rates else None

        fastest = max(r["docs_per_s"] for r in runs)
        compared = [r["identical_to_local"] for r in runs if "identical_to_local" in r]
        report = {
            "summary": {
                "kill_resume_identical": all(p["identical"] for p in kill["points"]),
                "kill_points": len(kill["points"]),
                "engines_identical": all(compared) if compared else None,
                "docs_per_s_local": best("local"),
                "docs_per_s_ray": best("ray"),
                "hours_36m_abstracts_here": round(PUBMED_ABSTRACTS / fastest / 3600, 1),
            },
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": describe(),
            "corpus": {"documents": len(docs), "words": n_words, "words_per_doc": n_words / len(docs),
                       "sources": "PubMedQA (train/dev/test) + HoC (train/dev/test) abstracts",
                       "xml_files": len(list(xml_dir.iterdir())), "group_size": args.group_size,
                       "chunk_size": args.chunk_size},
            "readers": readers,
            "runs": [{k: v for k, v in r.items() if k != "output"} for r in runs],
            "kill_test": kill,
            "command": " ".join(sys.argv),
        }
        write_report(report, args.results_dir)
        log(json.dumps(report["summary"]))
        log(f"wrote {args.results_dir / 'annotate.json'} and annotate.md")
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
