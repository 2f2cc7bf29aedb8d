"""SlimFit (Ardakani et al. 2023): freeze the layers that change least, chosen anew as training goes.

*SlimFit: Memory-Efficient Fine-Tuning of Transformer-based Models Using Training Dynamics.* Its
inter-layer scheduler scores every layer by how much its weights moved since the last scheduling point
and freezes the least-moving ones up to a freeze ratio; a frozen layer keeps its last score, so it is
trained again once the others move less than it did. Frozen weights need no gradient and no optimizer
state, and autograd keeps no input activation for a linear layer whose weight needs no gradient. That
is where the memory goes; on CPU, a frozen layer also skips its weight-gradient matmul and its update.

What this module does, exactly:

- **Units** are the encoder's ``nn.Linear`` layers (query, key, value, attention output, intermediate and
  output of every transformer block) and its embedding block as one unit. The task head always trains.
- **Scores**: every ``interval`` optimiser steps, each trainable unit's score is the relative change of
  its weights since it was last scored, ``‖W_now − W_then‖ / ‖W_then‖``. A unit never trained yet scores
  +∞, so each unit is trained at least once before the dynamics decide (the first schedule, before any
  step, freezes the lowest units: no unit has moved yet, and the lower layers move least in fine-tuning).
- **Freezing**: the ``round(freeze_ratio × units)`` lowest-scoring units get ``requires_grad=False``;
  their optimizer state is dropped (a unit trained again starts Adam afresh, as a new parameter does).
- **Short runs**: a run of fewer than ``MIN_SCHEDULES × interval`` steps has its interval shortened
  to ``steps // MIN_SCHEDULES`` (at least 1), so that it is scheduled at least that many times; at a
  fixed interval a run shorter than it never reschedules, and SlimFit is static freezing of the
  lowest units. The card records the interval asked for and the one in force.
- **Learning rate** (:func:`scale_unit_lr`): the units train at the recipe's rate times ``lr_scale``
  (default ``1 / (1 − freeze_ratio)``), since each trains only part of the time; the head keeps its rate.
- **Activations** (``quantize_activations``): every floating-point tensor autograd saves during the
  forward pass, of at least :data:`MIN_QUANTIZED_NUMEL` elements, is kept as int8 with one absmax scale
  per tensor (error at most ``scale / 2`` per element, :func:`pack_int8`) and restored to its dtype for
  backward. Smaller tensors (biases, LayerNorm statistics) stay as they are.
- **Accounting** (:class:`MemoryMeter`): parameter, gradient and optimizer-state bytes, and the peak of
  the bytes the saved-tensor hooks hold at once, counted exactly, step by step; a tensor several
  operations save (a block's input, to its query, key and value layers) is held, packed and counted once.

The freezing pattern over time goes into the model card (``provenance.slimfit``).
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

MIN_QUANTIZED_NUMEL = 1024
# a run shorter than this many intervals has its interval shortened to fit them (see
# SlimFitScheduler.fit_to_budget): with fewer, the dynamics never get to choose
MIN_SCHEDULES = 8


# ---------------------------------------------------------------- activations
@dataclass
class PackedInt8:
    """A saved activation kept in 8 bits and one float scale (see :func:`pack_int8`): ``values`` is a
    ``torch.qint8`` tensor where torch's fused quantizer serves, else a plain ``torch.int8`` one."""

    values: torch.Tensor
    scale: float
    dtype: torch.dtype


_QUANTIZE_PER_TENSOR = getattr(torch, "quantize_per_tensor", None)


def _fused_quantize(tensor: torch.Tensor, scale: float) -> torch.Tensor | None:
    """``torch.quantize_per_tensor``: one fused pass where the separate operations take four. Torch
    marks it deprecated (a warning, once per process, silenced here); None where it is gone."""
    if _QUANTIZE_PER_TENSOR is None or tensor.dtype != torch.float32:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _QUANTIZE_PER_TENSOR(tensor, scale, 0, torch.qint8)
    except (RuntimeError, NotImplementedError):
        return None


def pack_int8(tensor: torch.Tensor) -> PackedInt8:
    """Symmetric per-tensor int8: ``round(x / s)`` with ``s = max|x| / 127``; ``|x − unpack| ≤ s / 2``.

    This runs in a saved-tensor hook on every activation of every step, where each pass is time: one
    ``aminmax``, then torch's fused quantizer (:func:`_fused_quantize`), or else a multiply by ``1/s``,
    rounding in place and the cast. No clamp is needed: ``|x| ≤ max|x|`` gives ``|x / s| ≤ 127`` up to
    float rounding, which rounds back to 127."""
    detached = tensor.detach()
    low, high = torch.aminmax(detached)
    scale = max(-float(low), float(high)) / 127.0 or 1.0
    values = _fused_quantize(detached, scale)
    if values is None:
        values = torch.mul(detached, 1.0 / scale).round_().to(torch.int8)
    return PackedInt8(values, scale, tensor.dtype)


def unpack_int8(packed: PackedInt8) -> torch.Tensor:
    if packed.values.is_quantized:
        return packed.values.dequantize().to(packed.dtype)
    return packed.values.to(packed.dtype).mul_(packed.scale)


class MemoryMeter:
    """Counts what training holds: parameters, gradients, optimizer state, and saved activations.

    :meth:`saved_tensors` is a ``torch.autograd.graph.saved_tensors_hooks`` context: every tensor
    autograd saves passes through it, so the bytes alive at once are counted exactly (a saved tensor
    is released when backward is done with it; a finalizer subtracts it then). With ``quantize``,
    large floating-point tensors are packed to int8 (:func:`pack_int8`) and counted at that size.

    One tensor saved by several operations (a block's input, saved by its query, key and value layers)
    is held, counted and packed once: later saves of the same live tensor — the same object, or a view
    of the same live base with the same offset, shape, strides and version — share the first holder.
    """

    def __init__(self, quantize: bool = False, skip: Iterator[nn.Parameter] = ()):
        self.quantize = quantize
        # the model's own weights are saved for backward too (a linear layer's input gradient needs its
        # weight): they are parameters, counted as such, never quantized
        self._skip = {p.data_ptr() for p in skip}
        self.alive = 0
        self.peak_activations = 0
        self.peak_static = 0
        self.quantized = 0  # tensors packed to int8
        self.kept = 0  # tensors kept as they were
        self.shared = 0  # saves answered by a holder made for an earlier save of the same tensor
        # (data_ptr, shape, strides, version) -> (the live object it came from, its holder), both weak
        self._holders: dict[tuple, tuple[weakref.ref, weakref.ref]] = {}

    def _hold(self, obj: Any, nbytes: int, key: tuple, source: torch.Tensor) -> Any:
        self.alive += nbytes
        self.peak_activations = max(self.peak_activations, self.alive)
        holder = _Held(obj)
        self._holders[key] = (weakref.ref(source), weakref.ref(holder))
        weakref.finalize(holder, self._release, nbytes, key)
        return holder

    def _release(self, nbytes: int, key: tuple) -> None:
        self.alive -= nbytes
        entry = self._holders.get(key)
        if entry is not None and entry[1]() is None:
            del self._holders[key]

    def _pack(self, tensor: torch.Tensor) -> Any:
        if tensor.data_ptr() in self._skip:
            return _Held(tensor)
        # the object that keeps the memory alive: a view's base (a layer's input reshaped inside
        # ``linear`` is a fresh view per call; its base is the one block input all three share)
        source = tensor._base if tensor._base is not None else tensor
        key = (tensor.data_ptr(), tuple(tensor.shape), tensor.stride(), tensor._version)
        entry = self._holders.get(key)
        if entry is not None and entry[0]() is source and (holder := entry[1]()) is not None:
            self.shared += 1
            return holder
        if self.quantize and tensor.is_floating_point() and tensor.numel() >= MIN_QUANTIZED_NUMEL:
            self.quantized += 1
            packed = pack_int8(tensor)
            return self._hold(packed, packed.values.numel(), key, source)
        self.kept += 1
        return self._hold(tensor, tensor.numel() * tensor.element_size(), key, source)

    @staticmethod
    def _unpack(holder: "_Held") -> torch.Tensor:
        obj = holder.obj
        return unpack_int8(obj) if isinstance(obj, PackedInt8) else obj

    def saved_tensors(self):
        return torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)

    def observe_static(self, model: nn.Module, optimizer: torch.optim.Optimizer | None) -> int:
        """Parameter + gradient + optimizer-state bytes now; the peak is kept."""
        total = sum(p.numel() * p.element_size() for p in model.parameters())
        total += sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)
        if optimizer is not None:
            for state in optimizer.state.values():
                total += sum(v.numel() * v.element_size() for v in state.values() if torch.is_tensor(v))
        self.peak_static = max(self.peak_static, total)
        return total

    @property
    def peak_bytes(self) -> int:
        """Peak static bytes plus peak saved-activation bytes (an upper bound on their joint peak)."""
        return self.peak_static + self.peak_activations


class _Held:
    """A box for what a pack hook returns, so a finalizer can see it go."""

    __slots__ = ("obj", "__weakref__")

    def __init__(self, obj: Any):
        self.obj = obj


# ---------------------------------------------------------------- the scheduler
def freeze_units(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """The units SlimFit schedules, in order from the input up: the embeddings (one unit), then every
    ``nn.Linear`` inside the encoder's transformer blocks (``<block path>.<linear path>``)."""
    base = getattr(model, "base_model", model)
    units: dict[str, list[nn.Parameter]] = {}
    embeddings = getattr(base, "embeddings", None)
    if embeddings is not None:
        units["embeddings"] = list(embeddings.parameters())
    encoder = getattr(base, "encoder", None)
    for name, module in (encoder.named_modules() if encoder is not None else ()):
        if isinstance(module, nn.Linear):
            units[f"encoder.{name}"] = list(module.parameters())
    if len(units) < 2:
        raise ValueError(f"{type(model).__name__}: no embeddings or encoder linear layers found for SlimFit to schedule")
    return units


def scale_unit_lr(groups: list[dict], model: nn.Module, scale: float) -> list[dict]:
    """Optimiser groups with the :func:`freeze_units` parameters split off at ``lr × scale``.

    A unit frozen a share ``r`` of the steps takes ``1 − r`` of the updates a fully trained one does;
    at ``scale = 1 / (1 − r)`` it covers about the same distance in the same budget (the authors' public
    code fine-tunes BERT-base at lr 2e-4 with 91% of its layers frozen at a time). The task head,
    never frozen, keeps its rate. Layerwise decay and weight decay carry over group by group."""
    if scale == 1.0:
        return groups
    scheduled = {id(p) for params in freeze_units(model).values() for p in params}
    out: list[dict] = []
    for group in groups:
        inside = [p for p in group["params"] if id(p) in scheduled]
        outside = [p for p in group["params"] if id(p) not in scheduled]
        if outside:
            out.append({**group, "params": outside})
        if inside:
            out.append({**group, "params": inside, "lr": group["lr"] * scale})
    return out


@dataclass
class SlimFitScheduler:
    """The inter-layer scheduler over :func:`freeze_units` (see the module docstring)."""

    model: nn.Module
    freeze_ratio: float
    interval: int
    units: dict[str, list[nn.Parameter]] = field(init=False)
    scores: dict[str, float] = field(init=False)
    frozen: set[str] = field(init=False, default_factory=set)
    history: list[dict[str, Any]] = field(init=False, default_factory=list)

    def __post_init__(self):
        if not 0 <= self.freeze_ratio < 1:
            raise ValueError(f"freeze_ratio must be in [0, 1), not {self.freeze_ratio}")
        if self.interval < 1:
            raise ValueError(f"interval must be at least 1, not {self.interval}")
        self.units = freeze_units(self.model)
        self.scores = {name: math.inf for name in self.units}
        self._then = self._snapshot(self.units)
        self._frozen_steps = {name: 0 for name in self.units}
        self._last_step = 0
        self.requested_interval = self.interval

    def fit_to_budget(self, total_steps: int) -> int:
        """Shorten the interval so that a run of ``total_steps`` is scheduled at least
        :data:`MIN_SCHEDULES` times (never lengthened); returns the interval in force."""
        if total_steps > 0:
            self.interval = max(1, min(self.requested_interval, total_steps // MIN_SCHEDULES))
        return self.interval

    @property
    def n_frozen(self) -> int:
        return round(self.freeze_ratio * len(self.units))

    @staticmethod
    def _snapshot(units: dict[str, list[nn.Parameter]]) -> dict[str, list[torch.Tensor]]:
        return {name: [p.detach().clone() for p in params] for name, params in units.items()}

    def _change(self, name: str) -> float:
        now = self.units[name]
        then = self._then[name]
        diff = math.sqrt(sum(float((a.detach() - b).pow(2).sum()) for a, b in zip(now, then)))
        norm = math.sqrt(sum(float(b.pow(2).sum()) for b in then)) or 1.0
        return diff / norm

    def schedule(self, step: int, optimizer: torch.optim.Optimizer | None = None) -> list[str]:
        """Score the units trained since the last call, freeze the lowest, unfreeze the rest; returns the
        frozen units. Called before the first step (no unit has moved: the lowest are frozen) and then
        every ``interval`` steps."""
        for name in self._frozen_steps:
            if name in self.frozen:
                self._frozen_steps[name] += step - self._last_step
        self._last_step = step
        for name in self.units:
            if name not in self.frozen and step > 0:
                self.scores[name] = self._change(name)
        order = list(self.units)
        if step == 0:  # nothing measured: the lowest units first
            chosen = order[: self.n_frozen]
        else:  # lowest score first; ties (never trained: +inf) broken towards the input
            chosen = sorted(order, key=lambda n: (self.scores[n], order.index(n)))[: self.n_frozen]
        newly = set(chosen) - self.frozen
        self.frozen = set(chosen)
        for name, params in self.units.items():
            for p in params:
                p.requires_grad_(name not in self.frozen)
                if name in self.frozen:
                    p.grad = None
                    if optimizer is not None and name in newly:
                        optimizer.state.pop(p, None)
        self._then = self._snapshot(self.units)
        self.history.append({"step": step, "frozen": sorted(self.frozen, key=order.index)})
        return sorted(self.frozen, key=order.index)

    def summary(self, total_steps: int) -> dict[str, Any]:
        """What the card records: the setting, the pattern at each scheduling point, and the share of
        steps each unit spent frozen."""
        for name in self._frozen_steps:
            if name in self.frozen:
                self._frozen_steps[name] += max(0, total_steps - self._last_step)
        self._last_step = total_steps
        return {"freeze_ratio": self.freeze_ratio, "interval": self.interval,
                "interval_requested": self.requested_interval, "units": len(self.units),
                "frozen_per_schedule": self.n_frozen, "schedules": self.history,
                "frozen_share": {n: round(s / max(1, total_steps), 3) for n, s in self._frozen_steps.items()}}


# ---------------------------------------------------------------- the Trainer hook
class SlimFitRun:
    """SlimFit (and/or the memory count) attached to one training run: a Trainer callback plus forward
    hooks that route every training forward pass's saved tensors through :class:`MemoryMeter`.

    ``freeze_ratio``/``interval`` None: no scheduling, only the count (the full fine-tuning arm of a
    measurement). ``lr_scale`` is only recorded in the card: the optimiser's groups apply it
    (:func:`scale_unit_lr`). :meth:`report` detaches the hooks and says what happened.
    """

    def __init__(self, model: nn.Module, freeze_ratio: float | None = None, interval: int | None = None,
                 quantize_activations: bool = False, lr_scale: float | None = None):
        from transformers import TrainerCallback

        self.scheduler = (SlimFitScheduler(model, freeze_ratio, interval)
                          if freeze_ratio is not None and interval is not None else None)
        self.meter = MemoryMeter(quantize=quantize_activations, skip=model.parameters())
        self.lr_scale = lr_scale
        self._context = None
        self._handles = [model.register_forward_pre_hook(self._enter), model.register_forward_hook(self._exit)]
        run = self

        class _Callback(TrainerCallback):
            def on_train_begin(self, args, state, control, optimizer=None, **kwargs):
                if run.scheduler is not None:
                    run.scheduler.fit_to_budget(state.max_steps)
                    run.scheduler.schedule(0, optimizer)

            def on_optimizer_step(self, args, state, control, model=None, optimizer=None, **kwargs):
                run.meter.observe_static(model, optimizer)

            def on_step_end(self, args, state, control, optimizer=None, **kwargs):
                if run.scheduler is not None and state.global_step % run.scheduler.interval == 0:
                    run.scheduler.schedule(state.global_step, optimizer)

        self.callback = _Callback()

    def _enter(self, module: nn.Module, args: Any) -> None:
        if module.training and torch.is_grad_enabled() and self._context is None:
            self._context = self.meter.saved_tensors()
            self._context.__enter__()

    def _exit(self, module: nn.Module, args: Any, output: Any) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None

    def report(self, total_steps: int) -> dict[str, Any]:
        for handle in self._handles:
            handle.remove()
        memory = {"peak_bytes": self.meter.peak_bytes, "peak_static_bytes": self.meter.peak_static,
                  "peak_saved_activation_bytes": self.meter.peak_activations,
                  "quantized_tensors": self.meter.quantized, "kept_tensors": self.meter.kept,
                  "activations_int8": self.meter.quantize}
        out: dict[str, Any] = {"training_memory": memory}
        if self.scheduler is not None:
            out["slimfit"] = {**self.scheduler.summary(total_steps), "lr_scale": self.lr_scale}
        return out
