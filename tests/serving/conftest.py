"""A real BentoML service on a free loopback port, serving tiny models of every task type."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
LIMITS = {"BIOMEDSERVE_MAX_CHARS": "3000", "BIOMEDSERVE_MAX_TEXTS": "8", "BIOMEDSERVE_MAX_TOTAL_CHARS": "6000",
          "BIOMEDSERVE_MAX_BODY_BYTES": "200000"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_service(models: list[Path], env_extra: dict[str, str], tmp: Path) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    env = {**os.environ, "BIOMEDSERVE_MODELS": ",".join(map(str, models)), "BENTOML_DO_NOT_TRACK": "true",
           "BENTOML_HOME": str(tmp / "bentoml"), **env_extra}
    log = tmp / f"service-{port}.log"
    bentoml = Path(sys.executable).with_name("bentoml")
    process = subprocess.Popen([str(bentoml), "serve", "service.service:BiomedServe", "--working-dir", str(REPO),
                                "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}", log


def wait_ready(process: subprocess.Popen, url: str, log: Path, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"service not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def served_models(tiny_model, tiny_task_model):
    return {"ner": tiny_model, "relation": tiny_task_model("ChemProt")[0], "qa": tiny_task_model("PubMedQA")[0],
            "similarity": tiny_task_model("BIOSSES")[0], "doc": tiny_task_model("HoC")[0]}


@pytest.fixture(scope="session")
def service(served_models, tmp_path_factory) -> str:
    process, url, log = start_service(list(served_models.values()), LIMITS, tmp_path_factory.mktemp("svc"))
    try:
        wait_ready(process, url, log)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="session")
def client(service):
    with httpx.Client(base_url=service, timeout=60) as c:
        yield c
