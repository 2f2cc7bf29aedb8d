"""``--report-only`` rebuilds each committed report byte for byte, from what is committed alone.

A report rebuilt on a fresh clone (no ``models/``, no ``encoders/``, another host) must state the
same figures, and the time and machine that measured them, not those of the rebuild.
"""

import shutil
import subprocess
import sys

import pytest

from tests.benchmarks import BENCHMARKS

REPO = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"


@pytest.mark.parametrize("benchmark, report", [("blurb", "blurb_minilm"), ("pretrain", "pretrain"),
                                               ("ner_multitype", "ner_multitype")])
def test_report_only_reproduces_the_committed_report(benchmark, report, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    shutil.copytree(RESULTS / "blurb_runs", results / "blurb_runs")  # the runs pretrain and blurb read
    for suffix in (".json", ".md"):
        shutil.copy(RESULTS / f"{report}{suffix}", results)
    subprocess.run([sys.executable, "-m", f"benchmarks.{benchmark}", "--report-only", "--results-dir", str(results),
                    "--models-dir", str(tmp_path / "no-models")], cwd=REPO, check=True, capture_output=True)
    for suffix in (".json", ".md"):
        rebuilt = (results / f"{report}{suffix}").read_text(encoding="utf-8")
        assert rebuilt == (RESULTS / f"{report}{suffix}").read_text(encoding="utf-8"), f"{report}{suffix} changed"
