"""Fine-tune an encoder on a BLURB dataset and write a complete model directory.

The path is the same for every task type: read the splits → build features with the task's
encoder → fine-tune with the Hugging Face ``Trainer`` (length-grouped batches, dev evaluation
each epoch, best epoch kept) → save weights and tokenizer → export ONNX → evaluate through the
runtime ``Predictor`` in file order (``Trainer.predict`` with ``group_by_length`` reorders) →
write the model card.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from biomedserve.data.registry import get_dataset
from biomedserve.encoders import resolve_base_model
from biomedserve.errors import BiomedserveError
from biomedserve.export import export_onnx
from biomedserve.modeldir import ONNX_FILE, TORCH_FILES, ModelMeta, record_files, write_meta
from biomedserve.provenance import provenance
from biomedserve.recipes import Recipe
from biomedserve.tasks import get_task

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    """Run options that are not hyperparameters (so they stay out of the recipe)."""

    data_dir: str | Path | None = None
    limit_train: int | None = None  # first N training sentences: smoke runs and tests
    limit_eval: int | None = None  # first N dev/test sentences
    progress: bool = True
    evaluate_splits: tuple[str, ...] = ("dev", "test")


def _load(spec, split, options: TrainOptions, limit: int | None):
    records = spec.load(split, options.data_dir)
    return records[:limit] if limit else records


def train(recipe: Recipe, out: str | Path, options: TrainOptions | None = None) -> ModelMeta:
    """Fine-tune per ``recipe`` and write ``out`` as a model directory; return its metadata."""
    import torch
    from datasets import Dataset
    from transformers import (AutoTokenizer, DataCollatorForTokenClassification, Trainer,
                              TrainingArguments, set_seed)

    options = options or TrainOptions()
    out = Path(out)
    spec = get_dataset(recipe.dataset)
    task = get_task(spec.task)
    if "train" not in spec.files:
        raise BiomedserveError(f"{spec.name} has no train split here; it can be evaluated but not trained on")
    base = resolve_base_model(recipe.base_model)

    train_records = _load(spec, "train", options, options.limit_train)
    dev_records = _load(spec, "dev", options, options.limit_eval)
    labels = task.labels(spec)
    label2id = {label: i for i, label in enumerate(labels)}
    id2label = dict(enumerate(labels))

    set_seed(recipe.seed)  # before the head is initialised, so the same seed gives the same model
    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
        model = task.auto_model.from_pretrained(base, num_labels=len(labels), id2label=id2label,
                                                label2id=label2id)
    except OSError as exc:
        raise BiomedserveError(f"base model {recipe.base_model!r} could not be loaded: {exc}") from None

    def features(records):
        return Dataset.from_list(task.features(records, tokenizer, label2id, spec, recipe.max_length))

    train_set, dev_set = features(train_records), features(dev_records)
    steps_per_epoch = math.ceil(len(train_set) / recipe.batch_size)
    # evaluate (and checkpoint) once per epoch; a --max-steps run shorter than an epoch evaluates at its end
    eval_steps = min(steps_per_epoch, recipe.max_steps) if recipe.max_steps else steps_per_epoch
    work = out / ".checkpoints"
    args = TrainingArguments(
        output_dir=str(work),
        learning_rate=recipe.learning_rate,
        num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps or -1,
        per_device_train_batch_size=recipe.batch_size,
        per_device_eval_batch_size=recipe.eval_batch_size,
        warmup_ratio=recipe.warmup_ratio,
        weight_decay=recipe.weight_decay,
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model=task.metric,
        greater_is_better=True,
        group_by_length=True,
        seed=recipe.seed,
        data_seed=recipe.seed,
        logging_steps=max(1, min(50, eval_steps // 5)),
        report_to=[],
        disable_tqdm=not options.progress,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        save_only_model=True,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=dev_set,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        compute_metrics=task.trainer_metrics(id2label),
    )
    started = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - started

    out.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    (out / "training_args.bin").unlink(missing_ok=True)  # a pickle; the recipe in the card says it all
    history = [e for e in trainer.state.log_history if f"eval_{task.metric}" in e]
    shutil.rmtree(work, ignore_errors=True)
    export_onnx(out, task.onnx_task)

    meta = ModelMeta(
        name=out.name,
        task=spec.task,
        dataset=spec.name,
        labels=labels,
        max_length=recipe.max_length,
        base_model=recipe.base_model,
        recipe=recipe.model_dump(),
        provenance={
            **provenance(recipe.base_model, base, spec, options.data_dir, list(spec.files)),
            "limit_train": options.limit_train,
            "limit_eval": options.limit_eval,
            "dev_history": [{"epoch": e.get("epoch"), "step": e.get("step"), task.metric: e[f"eval_{task.metric}"]}
                            for e in history],
            "best_checkpoint_metric": trainer.state.best_metric,
            "train_loss_curve": [[e["step"], round(e["loss"], 4)] for e in trainer.state.log_history if "loss" in e],
        },
        files=record_files(out, [ONNX_FILE, *TORCH_FILES]),
        train_seconds=round(train_seconds, 1),
    )
    write_meta(out, meta)
    if options.evaluate_splits:
        from biomedserve.evaluation import evaluate_model

        for split in options.evaluate_splits:
            if split in spec.files:
                evaluate_model(out, split=split, backend="onnx", data_dir=options.data_dir,
                               limit=options.limit_eval, record=True, progress=options.progress)
    from biomedserve.modeldir import read_meta

    return read_meta(out)
