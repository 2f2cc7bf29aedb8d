"""Fine-tune an encoder on a BLURB dataset and write a complete model directory.

The path is the same for every task type, and short enough to read in one sitting:

1. read the splits and build features with the task's encoder;
2. build the model: the task's head on the base encoder, then the recipe's stabilisation
   (prune → re-initialise → freeze → the head started at a linear probe of the frozen features
   (LP-FT) or its bias at the label prior);
3. build the optimiser: AdamW with or without bias correction, layerwise learning rates, a linear
   schedule with warm-up;
4. fine-tune with the Hugging Face ``Trainer`` (length-grouped batches, dev evaluation each epoch,
   the best epoch kept, optional early stopping);
5. optionally refit on train+dev for the number of epochs that was best on dev;
6. save weights and tokenizer, export ONNX, write the model card, evaluate through the runtime
   ``Predictor`` in file order (``Trainer.predict`` with ``group_by_length`` reorders).

Steps 1–5 are :func:`fine_tune` (a :class:`TrainedModel` in memory); step 6 is :func:`save_trained`
then :func:`biomedserve.export.onnx.build_model_dir`, which ``biomedserve export`` shares. :func:`train`
runs them all.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biomedserve.data.registry import DatasetSpec, get_dataset
from biomedserve.errors import BiomedserveError, RecipeError
from biomedserve.export.onnx import build_model_dir
from biomedserve.hardware import Bf16Decision, decide_bf16
from biomedserve.modeldir.card import ModelMeta, model_files, record_files
from biomedserve.modeling.encoders import resolve_base_model
from biomedserve.modeling.heads import (
    BiEncoder,
    BiEncoderCollator,
    PooledClassifier,
    add_entity_markers,
    head_config,
    save_head,
)
from biomedserve.tasks import get_task
from biomedserve.tasks.base import TaskDefinition
from biomedserve.training import checkpoints
from biomedserve.training.checkpoints import Checkpointing
from biomedserve.training.provenance import provenance
from biomedserve.training.recipes import Recipe
from biomedserve.training.stabilise import (
    AdamW,
    freeze_lower,
    head_bias_from_prior,
    head_from_probe,
    parameter_groups,
    prune_top_layers,
    reinit_pooler,
    reinit_top_layers,
)


@dataclass
class TrainOptions:
    """Run options that are not hyperparameters (so they stay out of the recipe)."""

    data_dir: str | Path | None = None
    limit_train: int | None = None  # first N training records: smoke runs and tests
    limit_eval: int | None = None  # first N dev/test records
    progress: bool = True
    evaluate_splits: tuple[str, ...] = ("dev", "test")
    # the runtime backend that scores those splits into the card: ``onnx`` (the graph served on CPU),
    # or ``torch`` (the same weights in PyTorch, on the GPU where there is one: for a GPU machine
    # whose ONNX Runtime runs on CPU only, where scoring would otherwise take longer than training)
    score_backend: str = "onnx"
    # count training memory exactly (parameters, gradients, optimizer state, the peak of saved activations:
    # biomedserve.training.slimfit.MemoryMeter) into the card; SlimFit recipes always count it
    measure_memory: bool = False
    # save resumable checkpoints there, and resume from the last one when the same run is started again
    # (biomedserve.training.checkpoints); None trains in memory, keeping only the best epoch
    checkpoint: Checkpointing | None = None


def _encoder(base: str, recipe: Recipe, labels: list[str], task: TaskDefinition, tokenizer):
    """The bare encoder for a :mod:`biomedserve.modeling.heads` head, its embeddings grown for added markers."""
    from transformers import AutoModel

    try:
        encoder = AutoModel.from_pretrained(base)
    except OSError as exc:
        raise BiomedserveError(f"base model {recipe.base_model!r} could not be loaded: {exc}") from None
    if tokenizer is not None and len(tokenizer) > encoder.get_input_embeddings().num_embeddings:
        encoder.resize_token_embeddings(len(tokenizer))  # room for the entity markers added to it
    # the Trainer's metrics read the label names from the config, as with Hugging Face's heads
    encoder.config.id2label = dict(enumerate(labels))
    encoder.config.label2id = {label: i for i, label in enumerate(labels)}
    encoder.config.problem_type = task.problem_type
    return encoder


def build_model(task: TaskDefinition, base: str, labels: list[str], recipe: Recipe,
                train_set: list[dict] | None = None, tokenizer=None,
                marker_ids: Sequence[int] = ()):
    """The task head on the base encoder, with the recipe's structural changes applied.

    With ``pooling`` or ``head: biencoder`` in the recipe the head is one of :mod:`biomedserve.modeling.heads`
    (what it reads is chosen, not the pooler by default); otherwise Hugging Face's ``AutoModelFor*``.
    ``train_set`` (features with ``labels``) is needed by ``head_bias_prior`` and by the bi-encoder,
    whose output scale is fitted to the training labels before fine-tuning. ``tokenizer`` (with any
    markers :func:`biomedserve.modeling.heads.add_entity_markers` added, whose ids are ``marker_ids``) sizes
    the embeddings and pads the bi-encoder's batches.
    """
    from transformers import set_seed

    set_seed(recipe.seed)  # before the head is initialised, so one seed gives one model
    if recipe.head == "biencoder":
        model = BiEncoder(_encoder(base, recipe, labels, task, tokenizer))
    elif recipe.pooling is not None:
        model = PooledClassifier(_encoder(base, recipe, labels, task, tokenizer), len(labels), recipe.pooling,
                                 task.problem_type, marker_ids)
    else:
        try:
            model = task.auto_model.from_pretrained(
                base, num_labels=len(labels), id2label=dict(enumerate(labels)),
                label2id={label: i for i, label in enumerate(labels)}, problem_type=task.problem_type)
        except OSError as exc:
            raise BiomedserveError(f"base model {recipe.base_model!r} could not be loaded: {exc}") from None
    prune_top_layers(model, recipe.prune_top_layers)
    reinit_top_layers(model, recipe.reinit_top_layers)
    reinit_pooler(model, recipe.reinit_pooler)
    freeze_lower(model, recipe.freeze_embeddings, recipe.freeze_layers)
    if isinstance(model, BiEncoder):
        if train_set is None or tokenizer is None:
            raise ValueError("a biencoder needs the training features and tokenizer to fit its output scale")
        fit_biencoder_scale(model, train_set, tokenizer)
    if recipe.head_from_probe:
        if train_set is None or tokenizer is None:
            raise ValueError("head_from_probe needs the training features and tokenizer to fit the probe")
        head_from_probe(model, pooled_features(model, train_set, task, tokenizer),
                        [f["labels"] for f in train_set], task.problem_type)
    if recipe.head_bias_prior:
        if train_set is None:
            raise ValueError("head_bias_prior needs the training features to read the label prior from")
        try:
            head_bias_from_prior(model, [f["labels"] for f in train_set], task.problem_type)
        except ValueError as exc:
            raise RecipeError(f"head_bias_prior: {exc}") from None
    return model


def pooled_features(model: PooledClassifier, train_set: list[dict], task: TaskDefinition, tokenizer,
                    batch_size: int = 64):
    """What the head reads for every training example, from the frozen (untrained) encoder, in order."""
    import torch
    from transformers import DataCollatorWithPadding

    collate = task.collator(tokenizer) if task.collator is not None else DataCollatorWithPadding(tokenizer)
    model.eval()
    vectors = []
    with torch.no_grad():
        for start in range(0, len(train_set), batch_size):
            batch = collate(train_set[start:start + batch_size])
            vectors.append(model.features(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids")))
    model.train()
    return torch.cat(vectors)


def fit_biencoder_scale(model: BiEncoder, train_set: list[dict], tokenizer, batch_size: int = 64) -> None:
    """Least-squares ``scale``/``shift`` of the training labels on the untrained encoder's cosines."""
    import torch

    collate = BiEncoderCollator(tokenizer)
    model.eval()
    cosines = []
    with torch.no_grad():
        for start in range(0, len(train_set), batch_size):
            batch = collate(train_set[start:start + batch_size])
            cosines.append(model.cosine(batch["input_ids"], batch["attention_mask"], batch["input_ids_b"],
                                        batch["attention_mask_b"]))
    model.train()
    model.fit_affine(torch.cat(cosines), torch.tensor([float(f["labels"]) for f in train_set]))


def build_optimizer(model, recipe: Recipe, total_steps: int):
    """AdamW (bias correction per recipe) over layerwise groups, linear decay after warm-up; under SlimFit
    the scheduled layers' rate is scaled (``slimfit.lr_scale``)."""
    from transformers import get_linear_schedule_with_warmup

    groups = parameter_groups(model, recipe.learning_rate, recipe.weight_decay, recipe.layerwise_lr_decay)
    if recipe.slimfit is not None:  # the scheduled layers train part of the time, at a rate scaled to match
        from biomedserve.training.slimfit import scale_unit_lr

        groups = scale_unit_lr(groups, model, recipe.slimfit.unit_lr_scale)
    optimizer = AdamW(groups, lr=recipe.learning_rate, eps=recipe.adam_epsilon,
                      weight_decay=recipe.weight_decay, bias_correction=recipe.bias_correction)
    schedule = get_linear_schedule_with_warmup(optimizer, int(recipe.warmup_ratio * total_steps), total_steps)
    return optimizer, schedule


class KeepBest:
    """Keep the best dev state in memory and stop early — instead of a checkpoint per epoch.

    The Trainer's own ``load_best_model_at_end`` writes every evaluated epoch to disk; with 30
    epochs on BIOSSES that is most of the run's time. A copy of the weights in memory (90 MB for
    MiniLM, 440 MB for a BERT-base) costs nothing of the sort.
    """

    def __init__(self, metric: str, patience: int | None):
        from transformers import TrainerCallback

        keeper = self

        class _Callback(TrainerCallback):
            def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
                keeper.observe(metrics[f"eval_{metric}"], model, control)

        self.callback = _Callback()
        self.patience = patience
        self.best: float | None = None
        self.best_state: dict | None = None
        self.since_best = 0

    def observe(self, value: float, model, control) -> None:
        if self.best is None or value > self.best:
            self.best, self.since_best = value, 0
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.since_best += 1
            if self.patience and self.since_best >= self.patience:
                control.should_training_stop = True

    def restore(self, model) -> None:
        if self.best_state is not None:
            model.load_state_dict(self.best_state)

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of it (:mod:`biomedserve.training.checkpoints`)."""
        return {"best": self.best, "best_state": self.best_state, "since_best": self.since_best}

    def load(self, state: dict[str, Any]) -> None:
        self.best, self.best_state, self.since_best = state["best"], state["best_state"], state["since_best"]


def fit(task: TaskDefinition, spec: DatasetSpec, recipe: Recipe, model, tokenizer, train_set: list[dict],
        dev_set: list[dict] | None, work: Path, options: TrainOptions, bf16: bool, epochs: float | None = None):
    """Run the Trainer; with a dev set, evaluate each epoch and keep the best. Returns the Trainer.

    ``bf16`` is the recipe's setting resolved on this host (:func:`biomedserve.hardware.decide_bf16`).
    With ``options.checkpoint`` the run checkpoints into ``work`` and resumes from its last complete
    checkpoint there; the Trainer's ``resumed_seconds`` are the training seconds before this process.
    """
    import torch
    from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding, TrainingArguments

    from biomedserve.training.callbacks import quiet_console, step_progress
    from biomedserve.training.sampling import SampledTrainer, corpus_sampler

    steps_per_epoch = math.ceil(len(train_set) / recipe.batch_size)
    if epochs is not None:  # an explicit epoch count (the refit) wins over the recipe's max_steps
        total_steps = max(1, math.ceil(epochs * steps_per_epoch))
    else:
        total_steps = recipe.max_steps or math.ceil(recipe.epochs * steps_per_epoch)
    # evaluate (and checkpoint) once per epoch; a run shorter than an epoch evaluates at its end
    eval_steps = min(steps_per_epoch, total_steps)
    selecting = dev_set is not None
    # TrainingArguments(bf16=True) records the mode in $ACCELERATE_MIXED_PRECISION and later fp32
    # arguments never clear it: without this, one bf16 run makes every later run in the same
    # process (a sweep) bf16 too
    os.environ["ACCELERATE_MIXED_PRECISION"] = "bf16" if bf16 else "no"
    args = TrainingArguments(
        output_dir=str(work),
        max_steps=total_steps,
        per_device_train_batch_size=recipe.batch_size,
        per_device_eval_batch_size=recipe.eval_batch_size,
        eval_strategy="steps" if selecting else "no",
        eval_steps=eval_steps,
        # the best epoch is kept in memory by KeepBest (and in each checkpoint when checkpointing)
        save_strategy="steps" if options.checkpoint else "no",
        save_steps=options.checkpoint.every if options.checkpoint else 500,
        save_total_limit=checkpoints.KEEP,
        group_by_length=True,
        seed=recipe.seed,
        data_seed=recipe.seed,
        logging_steps=max(1, min(50, eval_steps // 5)),
        report_to=[],
        disable_tqdm=True,  # the console shows biomedserve.training.callbacks.step_progress instead
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        bf16=bf16,
    )
    if isinstance(model, BiEncoder):
        collator = BiEncoderCollator(tokenizer)
    elif task.collator is not None:
        collator = task.collator(tokenizer)
    else:
        collator = (DataCollatorForTokenClassification if task.token_level else DataCollatorWithPadding)(tokenizer)
    keeper = KeepBest(task.metric, recipe.early_stopping_patience)
    slimfit = None
    if options.checkpoint and (recipe.slimfit is not None or options.measure_memory):
        raise RecipeError("slimfit: checkpoints are not supported with SlimFit or --measure-memory yet (the layer "
                          "scores and memory counts live in memory); train without a checkpoint directory")
    if recipe.slimfit is not None or options.measure_memory:
        from biomedserve.training.slimfit import SlimFitRun

        config = recipe.slimfit
        slimfit = SlimFitRun(model, config.freeze_ratio if config else None, config.interval if config else None,
                             quantize_activations=bool(config and config.quantize_activations),
                             lr_scale=config.unit_lr_scale if config else None)
    trainer = SampledTrainer(
        model=model, args=args, train_dataset=train_set, eval_dataset=dev_set, data_collator=collator,
        compute_metrics=task.trainer_metrics(model.config.id2label, spec), compute_loss_func=task.compute_loss,
        optimizers=build_optimizer(model, recipe, total_steps),
        callbacks=([keeper.callback] if selecting else []) + ([slimfit.callback] if slimfit else []),
        train_sampler=corpus_sampler(train_set, recipe.corpus_sampling_temperature, recipe.seed, recipe.batch_size,
                                     spec.name))
    quiet_console(trainer)
    if options.progress:
        phase = "training" if epochs is None else "refit on train+dev"
        trainer.add_callback(step_progress(phase, metric=task.metric if selecting else None))
    started = time.perf_counter()
    resume, trainer.resumed_seconds, first_step = None, 0.0, 0
    if options.checkpoint:
        def snapshot() -> dict[str, Any]:
            return {"keep_best": keeper.state(),
                    "train_seconds": trainer.resumed_seconds + time.perf_counter() - started}

        trainer.add_callback(checkpoints.state_callback(snapshot))
        resume = checkpoints.last_complete(work)
        if resume is not None:
            state = checkpoints.load_state(resume)
            keeper.load(state["keep_best"])
            trainer.resumed_seconds = state["train_seconds"]
            first_step = checkpoints.step_of(resume)
            if options.progress:
                print(f"resuming from {resume} (step {first_step} of {total_steps})", file=sys.stderr)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    keeper.restore(trainer.model)
    steps_here = max(1, trainer.state.global_step - first_step)
    trainer.run_record = {"seconds_per_step": round((time.perf_counter() - started) / steps_here, 4),
                          **(slimfit.report(trainer.state.global_step) if slimfit else {})}
    return trainer


def _dev_history(trainer, metric: str, steps_per_epoch: int) -> list[dict[str, Any]]:
    return [{"epoch": round(e["step"] / steps_per_epoch, 3), "step": e["step"], metric: e[f"eval_{metric}"]}
            for e in trainer.state.log_history if f"eval_{metric}" in e]


@dataclass
class TrainedModel:
    """A fine-tuned model in memory, with what the model card says about how it was made."""

    model: Any  # the fitted transformers model (best dev epoch, or the train+dev refit)
    tokenizer: Any
    task: TaskDefinition
    spec: DatasetSpec
    recipe: Recipe
    labels: list[str]
    base: str  # the resolved base model (a path or hub id)
    bf16: Bf16Decision
    history: list[dict[str, Any]]  # dev score per evaluation
    best: dict[str, Any] | None  # the best entry of ``history``
    refit_epochs: float | None  # epochs of the train+dev refit, if the recipe asked for one
    train_loss_curve: list[list[float]]
    train_seconds: float
    pseudo_labels: dict[str, Any] | None = None  # self-training: the teacher and what it labelled per type
    run_record: dict[str, Any] | None = None  # seconds per step; SlimFit's pattern and the memory count


def fine_tune(recipe: Recipe, options: TrainOptions | None = None) -> TrainedModel:
    """Fine-tune per ``recipe`` (steps 1–5 of the module docstring); writes nothing that outlives the call."""
    import tempfile

    from transformers import AutoTokenizer

    options = options or TrainOptions()
    spec = get_dataset(recipe.dataset)
    task = get_task(spec.task)
    base = resolve_base_model(recipe.base_model)

    def load(split: str, limit: int | None) -> list:
        records = spec.load(split, options.data_dir)
        return records[:limit] if limit else records

    train_records, dev_records = load("train", options.limit_train), load("dev", options.limit_eval)
    pseudo_labels = None
    if recipe.pseudo_label_teacher:
        from biomedserve.training.pseudo_labels import add_pseudo_layers, unlabeled_sentences

        unlabeled = unlabeled_sentences(recipe.pseudo_label_texts, options.data_dir)[:options.limit_train]
        train_records, counts = add_pseudo_layers(train_records + unlabeled, recipe.pseudo_label_teacher,
                                                  recipe.pseudo_label_min_score, options.progress)
        pseudo_labels = {"teacher": recipe.pseudo_label_teacher, "min_score": recipe.pseudo_label_min_score,
                         "per_type": counts, "texts": dict(Counter(r.corpus for r in unlabeled))}
    labels = task.labels(spec)
    label2id = {label: i for i, label in enumerate(labels)}
    try:
        tokenizer = AutoTokenizer.from_pretrained(base, truncation_side=recipe.truncation_side)
    except OSError as exc:
        raise BiomedserveError(f"base model {recipe.base_model!r} could not be loaded: {exc}") from None
    markers = add_entity_markers(tokenizer, spec.entity_masks) if recipe.pooling == "entity_start" else []
    train_set = task.features(train_records, tokenizer, label2id, spec, recipe)
    dev_set = task.features(dev_records, tokenizer, label2id, spec, recipe)
    steps_per_epoch = math.ceil(len(train_set) / recipe.batch_size)

    bf16 = decide_bf16(recipe.bf16)
    if bf16.used and not bf16.native:
        warnings.warn(f"bf16: true on a host without native bfloat16 will train slowly ({bf16.reason}); "
                      "use bf16: auto", stacklevel=2)
    checkpoint = options.checkpoint
    if checkpoint:
        checkpoints.claim(checkpoint.directory, checkpoints.identity(
            recipe.model_dump(), {"limit_train": options.limit_train, "limit_eval": options.limit_eval,
                                  "data_dir": str(options.data_dir) if options.data_dir else None},
            train_set, dev_set))
    with tempfile.TemporaryDirectory(prefix="biomedserve-train-") as work:
        started = time.perf_counter()
        def model_for(examples: list[dict]):
            return build_model(task, base, labels, recipe, examples, tokenizer, markers)

        def work_dir(phase: str) -> Path:
            return checkpoint.phase(phase) if checkpoint else Path(work)

        trainer = fit(task, spec, recipe, model_for(train_set), tokenizer,
                      train_set, dev_set, work_dir("train"), options, bf16.used)
        resumed_seconds = trainer.resumed_seconds
        history = _dev_history(trainer, task.metric, steps_per_epoch)
        best = max(history, key=lambda e: e[task.metric]) if history else None
        refit_epochs = None
        if recipe.refit_train_dev and best is not None:
            # the selected epoch count, now on train+dev, from the same initialisation; no dev left to select on
            refit_epochs = max(best["epoch"], 1 / steps_per_epoch)
            trainer = fit(task, spec, recipe, model_for(train_set + dev_set),
                          tokenizer, train_set + dev_set, None, work_dir("refit"), options, bf16.used,
                          epochs=refit_epochs)
            resumed_seconds += trainer.resumed_seconds
        # a resumed run counts the seconds its checkpoints recorded (not those lost after the last one)
        train_seconds = time.perf_counter() - started + resumed_seconds
    return TrainedModel(
        model=trainer.model, tokenizer=tokenizer, task=task, spec=spec, recipe=recipe, labels=labels, base=base,
        bf16=bf16, history=history, best=best, refit_epochs=refit_epochs,
        train_loss_curve=[[e["step"], round(e["loss"], 4)] for e in trainer.state.log_history if "loss" in e],
        train_seconds=train_seconds, pseudo_labels=pseudo_labels, run_record=getattr(trainer, "run_record", None))


def save_trained(trained: TrainedModel, out: str | Path, options: TrainOptions | None = None) -> ModelMeta:
    """Write the weights and tokenizer to ``out``; return the card describing them (not yet written:
    :func:`biomedserve.export.onnx.build_model_dir` adds the graph, writes it and scores the model)."""
    options = options or TrainOptions()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    custom = isinstance(trained.model, (PooledClassifier, BiEncoder))
    if custom:
        save_head(trained.model, out)
    else:
        trained.model.save_pretrained(str(out))
    trained.tokenizer.save_pretrained(str(out))
    spec = trained.spec
    return ModelMeta(
        name=out.name,
        task=spec.task,
        dataset=spec.name,
        labels=trained.labels,
        entity_masks=spec.entity_masks,
        entity_types=list(spec.entity_types) or None,
        corpus_types={corpus: list(types) for corpus, types in spec.corpus_types.items()} or None,
        head=head_config(trained.model) if custom else None,
        max_length=trained.recipe.max_length,
        base_model=trained.recipe.base_model,
        recipe=trained.recipe.model_dump(),
        provenance={
            **provenance(trained.recipe.base_model, trained.base, spec, options.data_dir,
                         spec.available_splits(options.data_dir)),
            "bf16": trained.bf16.to_dict(),
            "limit_train": options.limit_train,
            "limit_eval": options.limit_eval,
            "metric": trained.task.metric,
            "dev_history": trained.history,
            "best_dev": trained.best,
            "refit_epochs_on_train_dev": trained.refit_epochs,
            "train_loss_curve": trained.train_loss_curve,
            "pseudo_labels": trained.pseudo_labels,
            **(trained.run_record or {}),
        },
        files=record_files(out, model_files(out)),
        train_seconds=round(trained.train_seconds, 1),
    )


def train(recipe: Recipe, out: str | Path, options: TrainOptions | None = None) -> ModelMeta:
    """Fine-tune per ``recipe`` and write ``out`` as a complete model directory; return its card.

    The three steps, for callers that want one: :func:`fine_tune`, :func:`save_trained`,
    :func:`biomedserve.export.onnx.build_model_dir`.
    """
    options = options or TrainOptions()
    trained = fine_tune(recipe, options)
    meta = save_trained(trained, out, options)
    splits = tuple(s for s in options.evaluate_splits if s in trained.spec.available_splits(options.data_dir))
    meta = build_model_dir(Path(out), meta, evaluate=splits, data_dir=options.data_dir, limit=options.limit_eval,
                           progress=options.progress, backend=options.score_backend)
    if options.checkpoint:  # the model directory is whole: its checkpoints have nothing left to give
        checkpoints.clear(options.checkpoint.directory)
    return meta
