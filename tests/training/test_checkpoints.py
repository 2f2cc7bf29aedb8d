"""Resumable training: a run killed after a checkpoint and started again ends where the unbroken run does."""

from __future__ import annotations

import json

import pytest
import torch

from biomedserve.errors import BiomedserveError, RecipeError
from biomedserve.training import checkpoints
from biomedserve.training.checkpoints import Checkpointing
from biomedserve.training.finetune import TrainOptions, fine_tune, train
from biomedserve.training.recipes import Recipe
from biomedserve.training.sampling import SampledTrainer

# 96 training sentences (136 features over the ten corpora) in batches of 8: 17 steps an epoch, a dev
# evaluation at steps 17 and 34 of 40; checkpoints every 5 steps and the kill at step 22 (after the first
# evaluation and the checkpoint at 20), so the resumed run must restore the weights, optimizer, schedule,
# data order and RNG (its losses and second evaluation match), and the best epoch so far: the tiny model
# scores 0 at both evaluations, so the unbroken run keeps step 17's weights, which a resumed run that
# lost them would not have.
KILL_AT = 22


def recipe(base, **fields) -> Recipe:
    return Recipe(**{"dataset": "NER-multicorpus", "base_model": str(base), "learning_rate": 5e-3, "max_steps": 40,
                     "batch_size": 8, "eval_batch_size": 16, "max_length": 48, "seed": 7,
                     "corpus_sampling_temperature": 2.0, **fields})


def options(**fields) -> TrainOptions:
    return TrainOptions(**{"limit_train": 96, "limit_eval": 24, "progress": False, **fields})


class Killed(RuntimeError):
    pass


def kill_at(monkeypatch, step: int) -> None:
    """Make the Trainer die in the optimizer step after ``step`` (as a session cut off would)."""
    original = SampledTrainer.training_step
    calls = {"n": 0}

    def dying(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > step:
            raise Killed(f"killed after step {step}")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SampledTrainer, "training_step", dying)


def test_a_killed_run_resumes_to_the_unbroken_runs_model(tiny_base, tmp_path, monkeypatch):
    unbroken = fine_tune(recipe(tiny_base), options())

    where = Checkpointing(tmp_path / "ckpt", every=5)
    with monkeypatch.context() as patch:
        kill_at(patch, KILL_AT)
        with pytest.raises(Killed):
            fine_tune(recipe(tiny_base), options(checkpoint=where))
    assert checkpoints.last_complete(where.phase("train")).name == "checkpoint-20"
    resumed = fine_tune(recipe(tiny_base), options(checkpoint=where))

    assert resumed.history == unbroken.history and len(unbroken.history) == 2
    assert resumed.best == unbroken.best
    # a logged loss averages the steps since the last log: the one straddling the resume point averages fewer
    after = [(step, loss) for step, loss in unbroken.train_loss_curve if step >= KILL_AT + 2]
    assert [[s, pytest.approx(v, abs=1e-4)] for s, v in after] == [e for e in resumed.train_loss_curve
                                                                   if e[0] >= KILL_AT + 2]
    expected, got = unbroken.model.state_dict(), resumed.model.state_dict()
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.allclose(expected[name], got[name], atol=1e-5), name
    assert resumed.train_seconds > 0


def test_without_checkpoints_the_run_differs_from_a_fresh_start(tiny_base):
    """The comparison above can fail: two seeds give different weights on the same tiny run."""
    one = fine_tune(recipe(tiny_base, max_steps=6), options())
    other = fine_tune(recipe(tiny_base, max_steps=6, seed=8), options())
    assert any(not torch.allclose(a, b) for a, b in zip(one.model.state_dict().values(),
                                                         other.model.state_dict().values()))


def test_another_recipe_in_the_same_directory_is_an_error_naming_the_field(tiny_base, tmp_path):
    where = Checkpointing(tmp_path / "ckpt", every=2)
    fine_tune(recipe(tiny_base, max_steps=2), options(checkpoint=where))
    with pytest.raises(BiomedserveError, match=r"recipe\.learning_rate"):
        fine_tune(recipe(tiny_base, max_steps=2, learning_rate=1e-3), options(checkpoint=where))
    with pytest.raises(BiomedserveError, match="limit_train"):
        fine_tune(recipe(tiny_base, max_steps=2), options(checkpoint=where, limit_train=64))


def test_a_half_written_checkpoint_is_never_resumed_from(tmp_path):
    phase = tmp_path / "train"
    (phase / "checkpoint-10").mkdir(parents=True)
    checkpoints.save_state(phase / "checkpoint-10", {"train_seconds": 1.0})
    (phase / "checkpoint-20").mkdir()  # killed while writing: no state file yet
    assert checkpoints.last_complete(phase).name == "checkpoint-10"
    assert checkpoints.last_complete(tmp_path / "missing") is None


def test_the_finished_model_directory_leaves_no_checkpoints(tiny_base, tmp_path):
    where = Checkpointing(tmp_path / "ckpt", every=2)
    meta = train(recipe(tiny_base, max_steps=4), tmp_path / "model", options(checkpoint=where))
    assert not where.directory.exists()
    assert (tmp_path / "model" / "model.onnx").exists()
    assert json.loads((tmp_path / "model" / "biomedserve.json").read_text())["train_seconds"] == meta.train_seconds


def test_slimfit_with_checkpoints_is_a_clear_error(tiny_base, tmp_path):
    with pytest.raises(RecipeError, match="slimfit"):
        fine_tune(recipe(tiny_base, max_steps=2, slimfit={"freeze_ratio": 0.5}),
                  options(checkpoint=Checkpointing(tmp_path / "ckpt")))


def test_a_checkpoint_interval_below_one_step_is_refused(tmp_path):
    with pytest.raises(BiomedserveError, match="at least one step"):
        Checkpointing(tmp_path, every=0)
