"""Resumable training: checkpoints that a killed run picks up from, in a later process or session.

A long run on CPU (the ten-corpus NER model at three epochs is hours on two cores) outlives the
process that started it. With a checkpoint directory, the Trainer saves every ``every`` steps what
it needs to go on exactly where it stopped — weights, optimizer and schedule state, the RNG states and
its log (transformers' own checkpoint) — and this module adds what lives outside the Trainer:

* the best dev state :class:`biomedserve.training.finetune.KeepBest` holds in memory, its score and its
  patience count, and the training seconds so far (``biomedserve_state.pt`` in each checkpoint, written
  last and atomically, so a checkpoint without it was cut off while saving and is never resumed from);
* the run's identity (``run.json``: recipe, data limits, the features' shape): resuming with another
  recipe or other data would silently mix two runs, so it is an error naming the fields that differ.

The data order resumes too: the Trainer skips the batches already seen, and the corpus sampler draws by
(seed, epoch). The two newest checkpoints are kept, so one is always complete while the next is written.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biomedserve.atomic import atomic_write
from biomedserve.errors import BiomedserveError

STATE_FILE = "biomedserve_state.pt"
RUN_FILE = "run.json"
KEEP = 2  # checkpoints kept: the newest may be half-written when a run is killed
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class Checkpointing:
    """Where a run checkpoints and how often (``TrainOptions.checkpoint``)."""

    directory: Path
    every: int = 200  # optimizer steps between checkpoints: ~5 minutes of MiniLM NER on two CPU cores

    def __post_init__(self) -> None:
        if self.every < 1:
            raise BiomedserveError(f"checkpoint interval must be at least one step, not {self.every}")

    def phase(self, name: str) -> Path:
        """The folder of one ``fit`` (``train``, or ``refit`` on train+dev): each resumes on its own."""
        return self.directory / name


def identity(recipe: dict[str, Any], limits: dict[str, Any], train_set: list[dict], dev_set: list[dict] | None
             ) -> dict[str, Any]:
    """What must match for a checkpoint to belong to this run: the recipe, the data limits and a hash of
    the training features' lengths and labels (another corpus version or tokenizer changes it)."""
    digest = hashlib.sha256()
    for feature in train_set:
        digest.update(json.dumps([len(feature["input_ids"]), feature.get("labels")], default=str).encode())
    return {"recipe": recipe, **limits, "train_examples": len(train_set),
            "dev_examples": len(dev_set) if dev_set is not None else None, "train_features_sha256": digest.hexdigest()}


def claim(directory: Path, run: dict[str, Any]) -> None:
    """Mark ``directory`` as this run's; if it holds another run's checkpoints, raise naming what differs."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / RUN_FILE
    if not path.exists():
        atomic_write(path, json.dumps(run, indent=2, default=str))
        return
    held = json.loads(path.read_text(encoding="utf-8"))
    differ = sorted(_differences(held, json.loads(json.dumps(run, default=str))))
    if differ:
        raise BiomedserveError(f"{directory} holds checkpoints of another run ({', '.join(differ)} differ); "
                               "give a new --checkpoint-dir, or delete that one to start over")


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        left, right = a.get(key), b.get(key)
        if isinstance(left, dict) and isinstance(right, dict):
            out += _differences(left, right, f"{prefix}{key}.")
        elif left != right:
            out.append(f"{prefix}{key}")
    return out


def step_of(checkpoint: Path) -> int:
    """The optimizer step a ``checkpoint-<step>`` folder was saved at."""
    return int(_CHECKPOINT.match(checkpoint.name).group(1))


def last_complete(directory: Path) -> Path | None:
    """The newest checkpoint whose :data:`STATE_FILE` was written (so all of it was), or None."""
    if not directory.is_dir():
        return None
    found = [p for p in directory.iterdir() if _CHECKPOINT.match(p.name) and p.is_dir()]
    for path in sorted(found, key=step_of, reverse=True):
        if (path / STATE_FILE).exists():
            return path
    return None


def save_state(checkpoint: Path, state: dict[str, Any]) -> None:
    """Write what the Trainer does not checkpoint into ``checkpoint``, atomically (temp file, rename)."""
    import torch

    temporary = checkpoint / (STATE_FILE + ".tmp")
    torch.save(state, temporary)
    temporary.replace(checkpoint / STATE_FILE)


def load_state(checkpoint: Path) -> dict[str, Any]:
    import torch

    return torch.load(checkpoint / STATE_FILE, map_location="cpu", weights_only=False)


def state_callback(snapshot):
    """A Trainer callback that saves ``snapshot()`` into each checkpoint just written."""
    from transformers import TrainerCallback

    class _SaveState(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            save_state(Path(args.output_dir) / f"checkpoint-{state.global_step}", snapshot())

    return _SaveState()


def clear(directory: Path) -> None:
    """Remove a finished run's checkpoints (``run.json`` and the phase folders), and the folder if empty."""
    held = directory / RUN_FILE
    if not held.exists():
        return
    for child in directory.iterdir():
        if child.is_dir() and any(_CHECKPOINT.match(p.name) for p in child.iterdir()):
            shutil.rmtree(child)
    held.unlink()
    if not any(directory.iterdir()):
        directory.rmdir()
