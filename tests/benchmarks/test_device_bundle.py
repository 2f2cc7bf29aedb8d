"""The device bundle's way home: ``collect`` adds only finished, well-named runs and keeps what is here."""

import io
import json
import subprocess
import tarfile

from tests.benchmarks import BENCHMARKS, load_benchmark


def _archive(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_collect_adds_finished_runs_and_never_overwrites_or_escapes(tmp_path):
    bundle = load_benchmark("device.bundle")
    runs = tmp_path / "blurb_runs"
    here = runs / "minilm" / "GAD" / f"{'a' * 16}.json"
    here.parent.mkdir(parents=True)
    here.write_text('{"kept": true}')
    finished = {"key": "b" * 16, "test": 80.1, "dev": 79.0, "accelerator": "NVIDIA H200"}
    archive = _archive(tmp_path / "runs.tar.gz", {
        f"./minilm/GAD/{'a' * 16}.json": json.dumps({"key": "a" * 16, "test": 1.0}).encode(),  # exists here
        f"./minilm/GAD/{'b' * 16}.json": json.dumps(finished).encode(),                          # new
        f"./minilm/GAD/{'c' * 16}.json": json.dumps({"key": "c" * 16, "test": None}).encode(),   # unfinished
        f"./minilm/GAD/{'d' * 16}.json": json.dumps({"key": "e" * 16, "test": 2.0}).encode(),    # wrong key
        f"./minilm/GAD/{'f' * 16}.json": b"{not json",
        "../../outside.json": json.dumps({"key": "x", "test": 3.0}).encode(),                   # ignored
    })
    counts = bundle.collect(archive, runs)
    assert counts == {"added": 1, "already_here": 1, "rejected": 3}
    assert json.loads(here.read_text()) == {"kept": True}
    assert json.loads((runs / "minilm" / "GAD" / f"{'b' * 16}.json").read_text()) == finished
    assert not (tmp_path / "outside.json").exists() and not (tmp_path.parent / "outside.json").exists()


def test_device_script_parses_and_teaches_its_usage():
    script = BENCHMARKS / "device" / "run.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    wrong = subprocess.run(["bash", str(script), "nonsense"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "usage" in wrong.stderr
