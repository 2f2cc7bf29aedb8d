"""Reader for PubMedQA (PQA-L) JSON: a mapping PMID → {QUESTION, CONTEXTS, final_decision, ...}."""

from __future__ import annotations

import json
from pathlib import Path

from biomedserve.data.records import PairInstance
from biomedserve.errors import DataFormatError


def read_pubmedqa(path: str | Path, labels: frozenset[str]) -> list[PairInstance]:
    """One instance per PMID: question, contexts joined by spaces, and the yes/no/maybe decision."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, exc.lineno, f"invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise DataFormatError(path, None, "expected a JSON object mapping PMID to instance")
    instances = []
    for pmid, item in data.items():
        if not isinstance(item, dict):
            raise DataFormatError(path, None, f"instance {pmid}: expected an object, got {type(item).__name__}")
        missing = [key for key in ("QUESTION", "CONTEXTS", "final_decision") if key not in item]
        if missing:
            raise DataFormatError(path, None, f"instance {pmid}: missing field {missing[0]!r}")
        question, contexts, label = item["QUESTION"], item["CONTEXTS"], item["final_decision"]
        if not isinstance(question, str):
            raise DataFormatError(path, None, f"instance {pmid}: QUESTION must be a string")
        if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
            raise DataFormatError(path, None, f"instance {pmid}: CONTEXTS must be a list of strings")
        if not isinstance(label, str) or label not in labels:
            raise DataFormatError(path, None, f"instance {pmid}: unknown final_decision {label!r}")
        instances.append(PairInstance(str(pmid), question, " ".join(contexts), label))
    return instances
