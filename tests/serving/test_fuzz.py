"""schemathesis against the running service's own OpenAPI schema: no input may produce a 5xx, and
every 4xx it provokes is a JSON ``{"error": ...}``."""

import json
import subprocess
import sys
from pathlib import Path


def test_fuzzing_the_schema_finds_no_server_error(service, tmp_path):
    har = tmp_path / "fuzz.har"
    schemathesis = Path(sys.executable).with_name("schemathesis")
    subprocess.run([str(schemathesis), "run", f"{service}/openapi.json", "--checks", "not_a_server_error",
                    "--max-examples", "8", "--report", "har", "--report-har-path", str(har),
                    "--request-timeout", "60"], capture_output=True, text=True, timeout=900)
    responses = [e["response"] for e in json.loads(har.read_text())["log"]["entries"]]
    statuses = [r["status"] for r in responses]
    assert len(statuses) > 20  # every operation was exercised
    assert [s for s in statuses if s >= 500] == []
    client_errors = [r for r in responses if 400 <= r["status"] < 500]
    assert client_errors
    for response in client_errors:
        assert response["content"]["mimeType"] == "application/json", response
        assert isinstance(json.loads(response["content"]["text"])["error"], str), response
