"""A real BentoML service on a free loopback port, serving tiny models of every task type."""

from __future__ import annotations

import httpx
import pytest

from biomedserve.serving.launch import ServiceProcess

LIMITS = {"BIOMEDSERVE_ALLOW_COLLAPSED": "1", "BIOMEDSERVE_MAX_CHARS": "3000", "BIOMEDSERVE_MAX_TEXTS": "8", "BIOMEDSERVE_MAX_TOTAL_CHARS": "6000",
          "BIOMEDSERVE_MAX_BODY_BYTES": "200000"}


@pytest.fixture(scope="session")
def served_models(tiny_model, tiny_two_type_model, tiny_multicorpus_model, tiny_task_model):
    return {"ner": tiny_model, "ner_two_types": tiny_two_type_model, "ner_guidelines": tiny_multicorpus_model,
            "relation": tiny_task_model("ChemProt")[0], "qa": tiny_task_model("PubMedQA")[0],
            "similarity": tiny_task_model("BIOSSES")[0], "doc": tiny_task_model("HoC")[0]}


@pytest.fixture(scope="session")
def service(served_models, tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("svc")
    process = ServiceProcess(list(served_models.values()), {**LIMITS, "BENTOML_HOME": str(tmp / "bentoml")},
                             log=tmp / "service.log")
    try:
        process.wait_ready()
        yield process.url
    finally:
        process.stop()


@pytest.fixture(scope="session")
def client(service):
    with httpx.Client(base_url=service, timeout=60) as c:
        yield c
