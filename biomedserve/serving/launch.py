"""Run the BentoML service as a child process — for `biomedserve serve`, tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from biomedserve.package_data import SERVICE, SOURCE_ROOT, is_installed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_target() -> str:
    """BentoML's import path of the service: the packaged ``service/`` (``biomedserve._service``) when
    installed, else ``service.service`` of the checkout (see ``package_data.package_folder``)."""
    module = f"{SERVICE}.service" if is_installed(SERVICE) else "service.service"
    return f"{module}:BiomedServe"


def bentoml_command(host: str, port: int) -> list[str]:
    """``bentoml serve`` for the biomedserve service, run by this interpreter.

    ``python -m bentoml`` rather than a ``bentoml`` script on PATH, which may belong to another
    environment and import another biomedserve. The working directory (BentoML puts it first on
    ``sys.path`` and changes into it) is the folder holding the imported biomedserve package, so the
    service imports this very biomedserve; model paths reach the service as absolute paths.
    """
    # keep-alive well above a busy client's idle gaps: with uvicorn's 5 s default, a connection the
    # server closes just as the client reuses it shows up as a reset (httpx ReadError) under load
    return [sys.executable, "-m", "bentoml", "serve", service_target(), "--working-dir", str(SOURCE_ROOT),
            "--host", host, "--port", str(port), "--timeout-keep-alive", "75"]


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
