"""Take the BLURB study to a GPU machine lent by the `device` tool, in one prepared run, and bring
its results home.

    python -m benchmarks.device.bundle pack               # build .device/part1 and .device/part2, print the two calls
    python -m benchmarks.device.bundle collect FILE.tar.gz  # add the device's finished runs to blurb_runs/

Why a bundle: the device machine reaches nothing (no PyPI, no hub), its image ships transformers 5.x
(our exporter, optimum-onnx, needs 4.57) and lacks pydantic and seqeval, and ``../shared`` does not
travel. Each call carries at most 64 MiB with the working tree, and the embedded encoder alone is
87 MiB, so the bundle is split in two: ``part1`` holds the first piece of the encoder package and is
staged by a short first call (``benchmarks/device/run.sh stage``); ``part2`` holds the rest, the pinned
wheels for Python 3.12 and the BLURB data (xz), and its call runs the sweep
(``benchmarks/device/run.sh blurb SECONDS WORKERS``). The encoder travels byte for byte (checked by
SHA-256 there), so runs made there use the same weights and the same run keys as runs made here.

``collect`` unpacks only run results (``<label>/<dataset>/<key>.json``), never overwrites a run
that exists here, and checks that each file is a finished result; ``python -m benchmarks.blurb --report-only`` then
reports the GPU runs beside the CPU ones, with their accelerator and hours.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

from biomedserve.checksums import file_sha256

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / ".device"
LIMIT = 64 * 2**20  # what one device call may carry: working tree, shared/ and carried paths together
MARGIN = 2 * 2**20  # the tree grows between packing and calling (results, notes)
# Distributions the device image lacks or ships at another version (its transformers is 5.x,
# tokenizers 0.23, huggingface_hub 1.x); the versions are read from this environment.
WHEELS = ("transformers", "tokenizers", "huggingface_hub", "optimum", "optimum-onnx", "pydantic",
          "pydantic_core", "annotated-types", "typing-inspection", "seqeval")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
RUN_NAME = re.compile(r"^(?:\./)?([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/([0-9a-f]{16})\.json$")


def tree_bytes() -> int:
    """Bytes of the tracked files: what travels with every call besides the carried bundle."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return sum((ROOT / n).stat().st_size for n in names.decode().split("\0") if n and (ROOT / n).is_file())


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def fetch_wheels(target: Path) -> None:
    """Wheels for the device's CPython 3.12 at this environment's versions (seqeval ships no
    wheel: it is built here, pure Python)."""
    target.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    binary = [f"{name}=={metadata.version(name)}" for name in WHEELS if name != "seqeval"]
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run([*pip, "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
                    "--implementation", "cp", *platforms, "-d", str(target), *binary], check=True)
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(target), f"seqeval=={metadata.version('seqeval')}"],
                   check=True)


def encoder_tar(target: Path) -> Path:
    """The embedded encoder's package folder as an uncompressed tar (fp32 weights barely compress)."""
    from biomedserve.modeling.encoders import default_encoder_path

    package = default_encoder_path().parent
    with tarfile.open(target, "w") as tar:
        tar.add(package, arcname=package.name, filter=lambda info: None if "__pycache__" in info.name else info)
    return target


def data_tar(target: Path, data_dir: Path) -> Path:
    with tarfile.open(target, "w:xz", preset=6) as tar:
        tar.add(data_dir, arcname="blurb")
    return target


def pack(data_dir: Path, out: Path = BUNDLE) -> dict:
    """Build ``out/part1`` and ``out/part2``, each under the call limit with the tracked tree."""
    shutil.rmtree(out, ignore_errors=True)
    part1, part2 = out / "part1", out / "part2"
    part1.mkdir(parents=True)
    part2.mkdir(parents=True)
    fetch_wheels(part2 / "whl")
    data_tar(part2 / "blurb.tar.xz", data_dir)
    tar = encoder_tar(out / "encoder.tar")
    tree = tree_bytes()
    budget = LIMIT - MARGIN - tree
    first = budget - 4096
    room2 = budget - folder_bytes(part2)
    if tar.stat().st_size - first > room2:
        raise SystemExit(f"the bundle does not fit in two calls: {tar.stat().st_size} bytes of encoder, "
                         f"{first} + {room2} bytes of room")
    with tar.open("rb") as source:
        (part1 / "encoder.part1").write_bytes(source.read(first))
        (part2 / "encoder.part2").write_bytes(source.read())
    manifest = {"encoder.tar": file_sha256(tar), "encoder_bytes": tar.stat().st_size,
                "data": str(data_dir), "data_sha256": file_sha256(part2 / "blurb.tar.xz"),
                "wheels": sorted(p.name for p in (part2 / "whl").glob("*.whl"))}
    (part2 / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    tar.unlink()
    sizes = {"tree": tree, "part1": folder_bytes(part1), "part2": folder_bytes(part2)}
    for name in ("part1", "part2"):
        if sizes["tree"] + sizes[name] > LIMIT - MARGIN:
            raise SystemExit(f"{name} is {sizes[name]} bytes: over the call limit with the tree")
    return {**sizes, **manifest}


def collect(archive: Path, runs_dir: Path) -> dict[str, int]:
    """Add the finished runs in ``archive`` to ``runs_dir`` (``blurb_runs/``); keep what is here."""
    counts = {"added": 0, "already_here": 0, "rejected": 0}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar.getmembers():
            match = RUN_NAME.match(member.name)
            if not member.isfile() or not match:
                continue
            target = runs_dir.joinpath(*match.groups()[:2], f"{match.group(3)}.json")
            if target.exists():
                counts["already_here"] += 1
                continue
            try:
                result = json.load(io.TextIOWrapper(tar.extractfile(member), encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                counts["rejected"] += 1
                continue
            if result.get("key") != match.group(3) or result.get("test") is None:
                counts["rejected"] += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(result, indent=2) + "\n")
            counts["added"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="build .device/part1 and .device/part2")
    packing.add_argument("--data-dir", type=Path, default=None, help="BLURB folder (default: the one biomedserve finds)")
    collecting = commands.add_parser("collect", help="add a device run's results to blurb_runs/")
    collecting.add_argument("archive", type=Path)
    collecting.add_argument("--runs-dir", type=Path, default=ROOT / "benchmarks" / "results" / "blurb_runs")
    args = parser.parse_args()
    if args.command == "pack":
        from biomedserve.data.location import resolve_data_dir

        sizes = pack(Path(resolve_data_dir(args.data_dir)))
        print(json.dumps({k: sizes[k] for k in ("tree", "part1", "part2")}, indent=2))
        print("Then, with the device tool (one call right after the other: the machine stays warm 30 s):\n"
              '  run(command="bash benchmarks/device/run.sh stage", carry=[".device/part1"], timeout_s=120)\n'
              '  run(command="bash benchmarks/device/run.sh blurb 480 8", carry=[".device/part2"], timeout_s=600)\n'
              "  python -m benchmarks.device.bundle collect <files_at>/blurb_runs.tar.gz\n"
              "  python -m benchmarks.blurb --report-only")
    else:
        print(json.dumps(collect(args.archive, args.runs_dir)))


if __name__ == "__main__":
    main()
