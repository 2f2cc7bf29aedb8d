"""The serving path runs on ONNX Runtime alone: PyTorch, seqeval and scikit-learn are never imported.

A child process makes those three unimportable (a meta-path finder that refuses them, as if not
installed), imports the BentoML service module and answers real requests through its FastAPI app
with models trained beforehand in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent('''
    import importlib.abc, json, sys

    BLOCKED = ("torch", "seqeval", "sklearn")

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
            return None

    sys.meta_path.insert(0, Refuse())
    from fastapi.testclient import TestClient

    from biomedserve.serving.store import ModelStore
    from service import service

    service.app.state.store = ModelStore.load(sys.argv[1])
    with TestClient(service.app) as client:
        ner = client.post("/ner", json={"texts": ["Naloxone reversed the effect of clonidine."]})
        relation = client.post("/relations", json={"text": "Aspirin inhibits COX-1.",
                                                   "entity1": {"start": 0, "end": 7},
                                                   "entity2": {"start": 17, "end": 22}})
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED + ("transformers",))
    print(json.dumps({"ner": [ner.status_code, ner.json()], "relation": [relation.status_code, relation.json()],
                      "loaded": loaded}))
''')


def test_the_service_serves_without_torch_seqeval_or_sklearn(served_models):
    models = f"{served_models['ner']},{served_models['relation']}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "BENTOML_DO_NOT_TRACK": "true",
           "BIOMEDSERVE_ALLOW_COLLAPSED": "1"}  # the tiny task models sit on their floors
    done = subprocess.run([sys.executable, "-c", CHILD, models], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    status, body = result["ner"]
    assert status == 200 and body["model"] == served_models["ner"].name and len(body["entities"]) == 1
    status, body = result["relation"]
    # the masks come from the model card (ChemProt: chemical, gene), not from the dataset registry
    assert status == 200 and body["masked_text"] == "@CHEMICAL$ inhibits @GENE$."
