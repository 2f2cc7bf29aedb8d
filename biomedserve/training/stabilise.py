"""The paper's stabilisation techniques, each a small function over a Hugging Face encoder model.

Tinn et al. show that fine-tuning on small biomedical sets is unstable and that the fix depends on
the task and the model. Every technique here is switched on by a recipe field, composes with the
others, and works on any BERT-shaped model (``model.base_model.embeddings`` /
``model.base_model.encoder.layer``: BERT, RoBERTa, ELECTRA, PubMedBERT, MiniLM).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The stack of transformer layers of a BERT-shaped model."""
    try:
        return model.base_model.encoder.layer
    except AttributeError:
        raise TypeError(f"{type(model).__name__} has no base_model.encoder.layer: not a BERT-shaped encoder") from None


def prune_top_layers(model: nn.Module, k: int) -> None:
    """Drop the top ``k`` transformer layers before fine-tuning (the paper's Table 7).

    A smaller, faster model; the config is updated so save/load and ONNX export see the new depth.
    """
    if k <= 0:
        return
    layers = encoder_layers(model)
    if k >= len(layers):
        raise ValueError(f"cannot prune {k} of {len(layers)} layers: at least one must remain")
    model.base_model.encoder.layer = nn.ModuleList(list(layers)[: len(layers) - k])
    model.config.num_hidden_layers = len(layers) - k


def reinit_top_layers(model: nn.Module, k: int) -> None:
    """Re-initialise the top ``k`` layers with the model's own init (normal(0, initializer_range)).

    The paper's best fix for sentence similarity: the top layers are the most specific to the
    pre-training objective and the least useful for a new one.
    """
    if k <= 0:
        return
    layers = encoder_layers(model)
    if k > len(layers):
        raise ValueError(f"cannot re-initialise {k} of {len(layers)} layers")
    for layer in list(layers)[len(layers) - k:]:
        layer.apply(model._init_weights)


def reinit_pooler(model: nn.Module, enabled: bool) -> None:
    """Re-initialise the pooler (the dense + tanh over ``[CLS]`` that sequence heads read).

    Zhang et al. (2021, "Revisiting few-sample BERT fine-tuning") re-initialise it with the top
    layers. It matters most for encoders whose pooler was never trained for their final objective:
    in sentence-transformers models such as the embedded MiniLM it is a leftover, and a frozen
    linear probe on HoC reads far less through it than from the raw ``[CLS]``
    (``benchmarks/pooler_probe.py``, figures in ``benchmarks/results/``). Token-level models have
    no pooler; there it is a no-op.
    """
    pooler = getattr(model.base_model, "pooler", None)
    if enabled and pooler is not None:
        pooler.apply(model._init_weights)


def head_bias_from_prior(model: nn.Module, train_labels: Sequence, problem_type: str | None) -> None:
    """Start the classification head's bias at the training labels' prior (Lin et al. 2017, focal loss).

    With rare positives (a HoC hallmark is on 1–7% of sentences) a zero-initialised sigmoid head
    starts at probability 0.5 everywhere. Adam moves a bias by about the learning rate per step, so
    at 1e-4 the bias would need tens of thousands of steps to reach the base rate; the encoder gets
    bent to produce it instead, and no class ever crosses 0.5 (HoC scored F1 0.00 so). Starting
    at the prior leaves the whole budget for telling classes apart: multi-label heads get the
    log-odds log p/(1−p) per class, single-label heads the log prior (add-one smoothed).
    """
    head = getattr(model, "classifier", None)
    linear = head if isinstance(head, nn.Linear) else getattr(head, "out_proj", None)
    if not isinstance(linear, nn.Linear) or linear.bias is None:
        raise ValueError(f"{type(model).__name__} has no classification head with a bias")
    if problem_type == "multi_label_classification":
        rate = torch.tensor([list(map(float, row)) for row in train_labels]).mean(0).clamp(1e-4, 1 - 1e-4)
        bias = torch.log(rate / (1 - rate))
    elif problem_type in (None, "single_label_classification"):
        counts = torch.bincount(torch.tensor([int(y) for y in train_labels]), minlength=linear.out_features)
        bias = torch.log((counts.float() + 1) / (counts.sum() + linear.out_features))
    else:
        raise ValueError(f"a label prior needs a classification head, not {problem_type}")
    if bias.numel() != linear.out_features:
        raise ValueError(f"{bias.numel()} label columns for a head of {linear.out_features} outputs")
    with torch.no_grad():
        linear.bias.copy_(bias)


def freeze_lower(model: nn.Module, embeddings: bool, k: int) -> None:
    """Freeze the embeddings and/or the lowest ``k`` layers (best for BERT-BASE in the paper)."""
    layers = encoder_layers(model)
    if k > len(layers):
        raise ValueError(f"cannot freeze {k} of {len(layers)} layers")
    frozen = ([model.base_model.embeddings] if embeddings else []) + list(layers)[:k]
    for module in frozen:
        for parameter in module.parameters():
            parameter.requires_grad_(False)


def layer_index(name: str, n_layers: int) -> int:
    """Depth of a parameter: 0 for embeddings, l for encoder layer l-1, n_layers+1 for head/pooler."""
    if ".embeddings." in f".{name}":
        return 0
    marker = ".encoder.layer."
    if marker in f".{name}":
        return int(f".{name}".split(marker, 1)[1].split(".", 1)[0]) + 1
    return n_layers + 1


def parameter_groups(model: nn.Module, lr: float, weight_decay: float, decay: float | None) -> list[dict]:
    """Optimiser groups: layerwise learning-rate decay and no weight decay on biases/LayerNorm.

    With decay ξ, layer l of L gets ``lr · ξ^(L − l)``: the top layer and the head get ``lr``,
    the embeddings ``lr · ξ^L`` (helps LARGE and ELECTRA models in the paper). Frozen parameters
    are left out.
    """
    n_layers = len(encoder_layers(model))
    groups: dict[tuple[int, bool], dict] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        depth = min(layer_index(name, n_layers), n_layers)  # head and pooler share the top rate
        no_decay = name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name
        scale = decay ** (n_layers - depth) if decay else 1.0
        key = (depth, no_decay)
        group = groups.setdefault(key, {"params": [], "lr": lr * scale,
                                        "weight_decay": 0.0 if no_decay else weight_decay})
        group["params"].append(parameter)
    return list(groups.values())


class AdamW(torch.optim.Optimizer):
    """AdamW with optional bias correction.

    The original BERT fine-tuning code (``BertAdam``) omitted Adam's bias correction; the paper
    shows this is a main source of instability on small sets. ``bias_correction=True`` is
    standard AdamW; ``False`` reproduces BertAdam's update ``lr · m / (sqrt(v) + eps)``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.0, bias_correction: bool = True):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      bias_correction=bias_correction))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                step_size = group["lr"]
                if group["bias_correction"]:
                    step_size *= math.sqrt(1 - beta2 ** state["step"]) / (1 - beta1 ** state["step"])
                    denom = v.sqrt().add_(group["eps"] * math.sqrt(1 - beta2 ** state["step"]))
                else:
                    denom = v.sqrt().add_(group["eps"])
                if group["weight_decay"]:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                p.addcdiv_(m, denom, value=-step_size)
        return loss


def head_from_probe(model: nn.Module, features: torch.Tensor, train_labels: Sequence,
                    problem_type: str | None) -> None:
    """Start the linear head at a logistic-regression probe of the frozen features (LP-FT, Kumar et al. 2022).

    A randomly initialised head sends noise back into the encoder in the first steps; on a small set
    (a few hundred QA pairs) that is enough to fall into always answering the majority label. Starting
    from the probe, fine-tuning begins where the frozen encoder's vectors already tell the labels
    apart. scikit-learn fits the probe (multinomial for single-label heads, one binary probe per
    column for multi-label ones); a class the training labels never show keeps a zero row and a low
    bias. ``features`` are the vectors the head reads (n × width), in training-set order.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    linear = getattr(model, "classifier", None)
    if not isinstance(linear, nn.Linear):
        raise ValueError(f"{type(model).__name__} has no linear classification head to start from a probe")
    x = features.detach().float().cpu().numpy()
    weight = np.zeros((linear.out_features, x.shape[1]), dtype=np.float32)
    bias = np.full(linear.out_features, -10.0, dtype=np.float32)  # classes never seen in training
    if problem_type == "multi_label_classification":
        y = np.array([list(map(float, row)) for row in train_labels])
        if y.shape[1] != linear.out_features:
            raise ValueError(f"{y.shape[1]} label columns for a head of {linear.out_features} outputs")
        for column in range(y.shape[1]):
            target = y[:, column]
            if target.min() == target.max():  # one value only: its log-odds, nothing to read
                rate = float(np.clip(target.mean(), 1e-4, 1 - 1e-4))
                bias[column] = math.log(rate / (1 - rate))
                continue
            probe = LogisticRegression(max_iter=2000).fit(x, target)
            weight[column], bias[column] = probe.coef_[0], probe.intercept_[0]
    elif problem_type in (None, "single_label_classification"):
        y = np.array([int(label) for label in train_labels])
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError("a probe needs at least two labels in the training set")
        probe = LogisticRegression(max_iter=2000).fit(x, y)
        if len(classes) == 2:  # one logit z for the second class: softmax over (−z/2, z/2) is sigmoid(z)
            weight[classes[1]], bias[classes[1]] = probe.coef_[0] / 2, probe.intercept_[0] / 2
            weight[classes[0]], bias[classes[0]] = -probe.coef_[0] / 2, -probe.intercept_[0] / 2
        else:
            weight[classes], bias[classes] = probe.coef_, probe.intercept_
    else:
        raise ValueError(f"a probe needs a classification head, not {problem_type}")
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(weight))
        linear.bias.copy_(torch.from_numpy(bias))
