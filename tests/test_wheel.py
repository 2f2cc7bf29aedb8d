"""The package as users install it: a built wheel, used from a directory that is not the checkout.

The recipes (``train/``), the spaCy baseline config (``train/spacy/ner.cfg``) and the BentoML service
(``service/``) ship inside the wheel as package data. The wheel goes into a fresh virtual environment
that borrows the heavy stack (torch, transformers, bentoml, spaCy) from the running one through a
``.pth`` line, so nothing is downloaded; a plain path line does not run that environment's editable
finder, so the wheel's biomedserve is the one imported. Every command runs with a temporary directory
as its working directory and without PYTHONPATH: the checkout's ``train/`` and ``service/`` are out of reach.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
import time
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from biomedserve.data.location import resolve_data_dir
from biomedserve.serving.launch import free_port
from biomedserve.training.recipes import RECIPE_DIRS, find_recipe

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "biomedserve", "train", "service")
TEXT = "Naloxone reversed the hypotensive effect of clonidine."


def copy_sources(dest: Path) -> Path:
    """The files a build reads, copied so that a build never writes egg-info or build/ into the checkout."""
    dest.mkdir()
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, dest / name)
    return dest


def borrowing_venv(path: Path) -> Path:
    """A new virtual environment whose site-packages also sees the running one's; returns its python."""
    venv.create(path, with_pip=False)
    python = path / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    borrowed = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    (Path(own) / "borrowed-stack.pth").write_text("\n".join(borrowed) + "\n")
    return python


def clean_env(tmp: Path) -> dict[str, str]:
    """The environment without PYTHONPATH (which would put a checkout first), offline, data by variable."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "BENTOML_DO_NOT_TRACK": "true",
            "BENTOML_HOME": str(tmp / "bentoml"), "BIOMEDSERVE_DATA": str(resolve_data_dir().resolve())}


def pip(python: Path, *args: str, env: dict[str, str]) -> None:
    """pip (borrowed) for that interpreter: offline, no dependencies, never touching the borrowed packages."""
    subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args, "--no-deps",
                    "--no-index", "--no-build-isolation"], env=env, check=True, capture_output=True, text=True)


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """The wheel built from a copy of the sources and installed into a fresh environment."""
    tmp = tmp_path_factory.mktemp("wheel")
    env = clean_env(tmp)
    src = copy_sources(tmp / "src")
    python = borrowing_venv(tmp / "venv")
    pip(python, "wheel", str(src), "-w", str(tmp / "dist"), env=env)
    wheel = next((tmp / "dist").glob("biomedserve-*.whl"))
    pip(python, "install", "--ignore-installed", str(wheel), env=env)
    work = tmp / "elsewhere"
    work.mkdir()
    return {"wheel": wheel, "venv": tmp / "venv", "python": python, "bin": tmp / "venv" / "bin" / "biomedserve",
            "work": work, "tmp": tmp}


@pytest.fixture(scope="module")
def wheel_model(installed, tiny_base) -> Path:
    """A few steps of ``biomedserve train`` with the packaged standard recipe, run by the installed script."""
    out = installed["work"] / "models" / "tiny"
    run([str(installed["bin"]), "train", "-d", "BC5-chem", "--max-steps", "2", "--limit-train", "16",
         "--limit-eval", "8", "--base-model", str(tiny_base), "--out", str(out)],
        installed["work"], clean_env(installed["tmp"]))
    return out


@pytest.mark.slow
def test_wheel_holds_the_package_recipes_service_and_spacy_config(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "biomedserve").rglob("*.py")}
    assert modules <= names, f"modules missing from the wheel: {sorted(modules - names)}"
    recipes = {f"biomedserve/_recipes/{p.relative_to(REPO / 'train').as_posix()}"
               for p in (REPO / "train").glob("*/*.yaml")}
    assert len(recipes) > 20 and recipes <= names, f"recipes missing: {sorted(recipes - names)}"
    assert {"biomedserve/_recipes/spacy/ner.cfg", "biomedserve/_service/service.py",
            "biomedserve/_service/bentofile.yaml"} <= names


@pytest.mark.slow
def test_the_installed_wheel_is_the_one_imported(installed):
    result = run([str(installed["python"]), "-c", "import biomedserve; print(biomedserve.__file__)"],
                 installed["work"], clean_env(installed["tmp"]))
    assert Path(result.stdout.strip()).is_relative_to(installed["venv"])


@pytest.mark.slow
def test_train_finds_the_packaged_recipe(wheel_model):
    meta = json.loads((wheel_model / "biomedserve.json").read_text())
    assert meta["recipe"]["dataset"] == "BC5-chem" and meta["recipe"]["max_steps"] == 2
    assert (wheel_model / "model.onnx").is_file()


@pytest.mark.slow
def test_serve_runs_the_packaged_service(installed, wheel_model):
    port = free_port()
    log = installed["tmp"] / "serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen([str(installed["bin"]), "serve", "--models", str(wheel_model), "--port", str(port),
                                   "--allow-collapsed"],
                                  cwd=installed["work"], env=clean_env(installed["tmp"]), stdout=sink,
                                  stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while True:
            assert server.poll() is None, f"serve exited with {server.returncode}:\n{log.read_text()[-3000:]}"
            assert time.time() < deadline, f"serve not ready after 120 s:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        response = httpx.post(f"http://127.0.0.1:{port}/ner", json={"texts": [TEXT]}, timeout=60)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"] == "tiny" and len(body["entities"]) == 1
    finally:
        server.terminate()
        server.wait(timeout=60)


@pytest.mark.slow
def test_annotate_with_the_installed_script(installed, wheel_model):
    work = installed["work"]
    (work / "doc.txt").write_text(TEXT + "\n")
    run([str(installed["bin"]), "annotate", "doc.txt", "-m", str(wheel_model), "-o", "out.jsonl", "--no-progress",
         "--allow-collapsed"],
        work, clean_env(installed["tmp"]))
    records = [json.loads(line) for line in (work / "out.jsonl").read_text().splitlines()]
    assert len(records) == 1 and "entities" in records[0]


@pytest.mark.slow
def test_baseline_finds_the_packaged_spacy_config(installed):
    work = installed["work"]
    run([str(installed["bin"]), "baseline", "-d", "BC5-chem", "--out", "baseline", "--max-steps", "2",
         "--limit", "16"], work, clean_env(installed["tmp"]))
    assert (work / "baseline" / "model-last" / "meta.json").is_file()


@pytest.mark.slow
def test_editable_install_maps_the_checkout_folders(tmp_path):
    """``pip install -e .`` (./setup.sh) finds train/ and service/ in the checkout, through the same names."""
    env = clean_env(tmp_path)
    src = copy_sources(tmp_path / "src")
    python = borrowing_venv(tmp_path / "venv")
    pip(python, "install", "--ignore-installed", "-e", str(src), env=env)
    probe = ("import importlib.util, json; from biomedserve.training.recipes import find_recipe; "
             "from biomedserve.serving.launch import service_target; "
             "print(json.dumps([importlib.util.find_spec('biomedserve._recipes').origin, "
             "importlib.util.find_spec('biomedserve._service').origin, "
             "str(find_recipe('standard', 'BC5-chem')), service_target()]))")
    (tmp_path / "elsewhere").mkdir()
    found = json.loads(run([str(python), "-c", probe], tmp_path / "elsewhere", env).stdout)
    assert found == [str(src / "train" / "__init__.py"), str(src / "service" / "__init__.py"),
                     str(src / "train" / "BC5-chem" / "standard.yaml"), "biomedserve._service.service:BiomedServe"]


def test_own_train_folder_comes_before_the_packaged_recipes(tmp_path, monkeypatch):
    """A recipe name is looked up in ./train first (a user's own recipes), then among the installed ones."""
    monkeypatch.chdir(tmp_path)
    assert find_recipe("standard", "BC5-chem") == RECIPE_DIRS[-1] / "BC5-chem" / "standard.yaml"  # the installed
    own = tmp_path / "train" / "BC5-chem" / "standard.yaml"
    own.parent.mkdir(parents=True)
    own.write_text("dataset: BC5-chem\n")
    assert find_recipe("standard", "BC5-chem").resolve() == own
