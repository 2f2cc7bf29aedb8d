"""Resume for real: the CLI in a subprocess, SIGKILLed twice mid-run, re-run, compared with an
uninterrupted run byte for byte."""

import os
import signal
import subprocess
import sys
import time

from biomedserve.annotate import annotate
from tests.pubmed_samples import SENTENCES, article, pubmed_xml, write

OPTIONS = ["--group-size", "4", "--chunk-size", "8", "--no-progress"]


def start(corpus, model, out):
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "biomedserve.cli", "annotate", str(corpus), "-m", str(model),
                             "-o", str(out), *OPTIONS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def kill_after_markers(process, parts, count: int, timeout: float = 120) -> int:
    """SIGKILL ``process`` as soon as ``count`` chunks are committed; return how many there were."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = len(list(parts.glob("chunk-*.done.json"))) if parts.is_dir() else 0
        if done >= count:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return done
        if process.poll() is not None:
            raise AssertionError(f"annotate ended before it could be killed: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.005)
    process.kill()
    raise AssertionError("no chunk was committed in time")


def test_sigkill_twice_then_resume_is_byte_identical(tiny_model, tmp_path):
    corpus = tmp_path / "in"
    for part in range(3):
        docs = [article(10_000 * part + i, SENTENCES[i % 6], " ".join(SENTENCES[(i + k) % 6] for k in range(6)))
                for i in range(150)]
        write(corpus / f"part{part}.xml.gz", pubmed_xml(*docs))
    reference = tmp_path / "reference.jsonl"
    annotate([str(corpus)], [str(tiny_model)], reference, group_size=4, chunk_size=8, progress=False)

    out = tmp_path / "out.jsonl"
    parts = tmp_path / "out.jsonl.parts"
    first = kill_after_markers(start(corpus, tiny_model, out), parts, 1)
    second = kill_after_markers(start(corpus, tiny_model, out), parts, first + 3)
    assert not out.exists() and not (parts / "finished.json").exists()
    finish = start(corpus, tiny_model, out)
    _, stderr = finish.communicate(timeout=300)
    assert finish.returncode == 0, stderr.decode()[-2000:]
    assert f"resuming {out}" in stderr.decode().replace("\n", "")
    assert second > first
    assert out.read_bytes() == reference.read_bytes()
    assert (tmp_path / "out.jsonl.errors.jsonl").read_bytes() == (tmp_path / "reference.jsonl.errors.jsonl").read_bytes()
