"""Run the BentoML service as a child process — for `biomedserve serve`, tests and benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
SERVICE = "service.service:BiomedServe"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bentoml_command(host: str, port: int) -> list[str]:
    """``bentoml serve`` for the biomedserve service, from the checkout that holds ``service/``."""
    local = Path(sys.executable).with_name("bentoml")
    executable = str(local) if local.is_file() else (shutil.which("bentoml") or "bentoml")
    # keep-alive well above a busy client's idle gaps: with uvicorn's 5 s default, a connection the
    # server closes just as the client reuses it shows up as a reset (httpx ReadError) under load
    return [executable, "serve", SERVICE, "--working-dir", str(REPO), "--host", host, "--port", str(port),
            "--timeout-keep-alive", "75"]


class ServiceProcess:
    """The service on a free loopback port; ``rss_mb`` counts its whole process tree."""

    def __init__(self, models: list[Path], env: dict[str, str] | None = None, log: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or Path(os.devnull)
        full_env = {**os.environ, "BIOMEDSERVE_MODELS": ",".join(str(Path(m).resolve()) for m in models),
                    "BENTOML_DO_NOT_TRACK": "true", **(env or {})}
        self.process = subprocess.Popen(bentoml_command("127.0.0.1", self.port), env=full_env,
                                        stdout=self.log.open("w"), stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 120) -> "ServiceProcess":
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text()[-3000:] if self.log.is_file() else ""
                raise RuntimeError(f"service exited with {self.process.returncode}:\n{tail}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"service not ready after {timeout} s")

    def rss_mb(self) -> float:
        import psutil

        root = psutil.Process(self.process.pid)
        procs = [root, *root.children(recursive=True)]
        return round(sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20, 1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
