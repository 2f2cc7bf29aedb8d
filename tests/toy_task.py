"""A toy task type, defined and registered in this one module: "are these two texts the same?".

Nothing else in biomedserve names it; ``tests/test_toy_task.py`` shows training, the runtime, the
CLI and the service route it from its kinds (text pair in, one label out).
"""

from __future__ import annotations

from pathlib import Path

from biomedserve.data.records import PairInstance
from biomedserve.data.registry import DATASETS, DatasetSpec
from biomedserve.modeldir.task_types import TASK_TYPES, InputKind, OutputKind, TaskType
from biomedserve.runtime.sequence import PairClassifierPredictor
from biomedserve.tasks import TASKS, qa, register_task
from biomedserve.tasks.base import TaskDefinition

NAME = "toy_pair"
DATASET = "TOY-pairs"
LABELS = ("same", "different")


class ToyPredictor(PairClassifierPredictor):
    """Its own class, so a test can see the runtime picked it from the card's task type."""


def read_pairs(path: Path) -> list[PairInstance]:
    rows = [line.split("\t") for line in Path(path).read_text(encoding="utf-8").splitlines() if line]
    return [PairInstance(f"{path.stem}-{i}", a, b, label) for i, (a, b, label) in enumerate(rows)]


def write_data(root: Path) -> Path:
    """A data dir with the toy set's three splits."""
    words = ["aspirin", "naloxone", "clonidine", "ouabain", "lithium", "cisplatin"]
    rows = [f"{a}\t{b}\t{'same' if a == b else 'different'}" for a in words for b in words[:3]]
    (root / DATASET).mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        (root / DATASET / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


TOY_TYPE = TaskType(NAME, ToyPredictor, InputKind.TEXT_PAIR, OutputKind.LABEL, "AutoModelForSequenceClassification",
                    "toy pair classification", "accuracy over toy pairs")
TOY = TaskDefinition(task_type=TOY_TYPE, onnx_task="text-classification", metric="accuracy",
                     labels=lambda spec: list(spec.labels), features=qa.features,
                     trainer_metrics=qa.trainer_metrics, evaluate=qa.evaluate)
TOY_DATA = DatasetSpec(DATASET, NAME, {s: f"{s}.tsv" for s in ("train", "dev", "test")}, read_pairs, labels=LABELS)


def register() -> None:
    register_task(TOY)
    DATASETS[DATASET] = TOY_DATA


def unregister() -> None:
    TASKS.pop(NAME, None)
    TASK_TYPES.pop(NAME, None)
    DATASETS.pop(DATASET, None)
