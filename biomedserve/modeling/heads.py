"""Sequence heads that read what the encoder was trained to produce.

Hugging Face's ``*ForSequenceClassification`` heads read the BERT pooler (a dense + tanh over
``[CLS]``). Encoders trained as sentence embedders (the embedded MiniLM) never trained that layer,
so a head on it reads noise (``benchmarks/results/pooler_probe_minilm.json``). Here the recipe says
what the head reads:

* ``pooler`` — the encoder's pooler output (PubMedBERT-style encoders, HF's default);
* ``cls`` — the final hidden state at ``[CLS]``;
* ``mean`` — the masked mean of the final hidden states (over the whole input for a pair);
* ``entity_start`` — the hidden states at the first two entity-marker tokens, concatenated (the
  "entity start" representation of Baldini Soares et al., 2019), for relation extraction.

:class:`BiEncoder` scores a sentence pair as a scaled cosine of the two mean-pooled sentences, so
fine-tuning starts where a sentence-embedding encoder already is.

Both are plain ``torch.nn.Module``s around an ``AutoModel`` encoder: saved as the encoder's own
directory plus ``head.safetensors`` and a ``head.json``, and exported to ONNX with ``torch.onnx`` (:mod:`biomedserve.export.head_onnx`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from biomedserve.modeldir.card import HEAD_CONFIG, HEAD_WEIGHTS
from biomedserve.modeling.encoders import mean_pool

POOLINGS = ("pooler", "cls", "mean", "entity_start")


def entity_starts(hidden: torch.Tensor, input_ids: torch.Tensor, marker_ids: torch.Tensor) -> torch.Tensor:
    """The hidden states at the first and second marker tokens, concatenated: [batch, 2 * dim].

    Written with comparisons, cumsum and argmax only, so it exports to ONNX. A sentence with fewer
    than two markers reads ``[CLS]`` (position 0) in place of the missing one.
    """
    is_marker = (input_ids.unsqueeze(-1) == marker_ids.view(1, 1, -1)).any(dim=-1)
    count = torch.cumsum(is_marker.to(torch.int64), dim=1)
    first = torch.argmax((is_marker & (count == 1)).to(torch.int64), dim=1)
    second = torch.argmax((is_marker & (count == 2)).to(torch.int64), dim=1)
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return torch.cat([hidden[rows, first], hidden[rows, second]], dim=-1)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, problem_type: str | None) -> torch.Tensor:
    """The loss HF's sequence heads use for ``problem_type`` (regression, multi-label or single-label)."""
    if problem_type == "regression":
        return nn.functional.mse_loss(logits.squeeze(-1), labels.to(logits.dtype))
    if problem_type == "multi_label_classification":
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    return nn.functional.cross_entropy(logits, labels)


class _OnEncoder(nn.Module):
    """What the stabilisation helpers (``biomedserve.training.stabilise``) read from a Hugging Face model."""

    encoder: nn.Module

    @property
    def base_model(self) -> nn.Module:
        return self.encoder

    def _init_weights(self, module: nn.Module) -> None:
        self.encoder._init_weights(module)


class PooledClassifier(_OnEncoder):
    """An encoder, a pooling of its hidden states, dropout and a linear head."""

    def __init__(self, encoder: nn.Module, num_labels: int, pooling: str = "cls",
                 problem_type: str | None = None, marker_ids: Sequence[int] = (), dropout: float = 0.1):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
        if pooling == "entity_start" and len(marker_ids) == 0:
            raise ValueError("pooling entity_start needs the entity marker token ids")
        self.encoder = encoder
        self.config = encoder.config  # the Trainer and the stabilisation helpers read it
        self.pooling = pooling
        self.problem_type = problem_type
        self.register_buffer("marker_ids", torch.tensor(list(marker_ids) or [-1], dtype=torch.int64),
                             persistent=False)
        width = encoder.config.hidden_size * (2 if pooling == "entity_start" else 1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(width, num_labels)
        self.num_labels = num_labels

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """What the head reads, per the pooling."""
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        out = self.encoder(**inputs)
        if self.pooling == "pooler":
            return out.pooler_output
        hidden = out.last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        if self.pooling == "mean":
            return mean_pool(hidden, attention_mask)
        return entity_starts(hidden, input_ids, self.marker_ids)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                **_: object) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        logits = self.classifier(self.dropout(self.features(input_ids, attention_mask, token_type_ids)))
        loss = None if labels is None else classification_loss(logits, labels, self.problem_type)
        return SequenceClassifierOutput(loss=loss, logits=logits)


class BiEncoder(_OnEncoder):
    """Sentence-pair regression as ``scale · cos(mean(a), mean(b)) + shift``, each sentence encoded alone.

    Training features carry ``input_ids``/``attention_mask`` for the first sentence and
    ``input_ids_b``/``attention_mask_b`` for the second. ``scale`` and ``shift`` map the cosine onto
    the label range; :meth:`fit_affine` sets them by least squares before fine-tuning, so the
    first steps move the encoder, not a mis-scaled output.
    """

    problem_type = "regression"

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.config = encoder.config
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.shift = nn.Parameter(torch.tensor(0.0))

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled, L2-normalised sentence vectors (the exported graph's output)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return nn.functional.normalize(mean_pool(hidden, attention_mask), dim=-1)

    def cosine(self, input_ids, attention_mask, input_ids_b, attention_mask_b) -> torch.Tensor:
        return (self.embed(input_ids, attention_mask) * self.embed(input_ids_b, attention_mask_b)).sum(-1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, input_ids_b: torch.Tensor,
                attention_mask_b: torch.Tensor, labels: torch.Tensor | None = None,
                **_: object) -> SequenceClassifierOutput:
        score = self.scale * self.cosine(input_ids, attention_mask, input_ids_b, attention_mask_b) + self.shift
        logits = score.unsqueeze(-1)
        loss = None if labels is None else classification_loss(logits, labels, "regression")
        return SequenceClassifierOutput(loss=loss, logits=logits)

    @torch.no_grad()
    def fit_affine(self, cosines: torch.Tensor, labels: torch.Tensor) -> None:
        """``scale``/``shift`` by least squares of ``labels`` on ``cosines`` (a pure rescaling: it
        changes no correlation, only where the regression loss starts)."""
        design = torch.stack([cosines.double(), torch.ones_like(cosines, dtype=torch.float64)], dim=1)
        solution = torch.linalg.lstsq(design, labels.double().unsqueeze(-1)).solution.squeeze(-1)
        self.scale.fill_(float(solution[0]))
        self.shift.fill_(float(solution[1]))


def head_config(model: nn.Module) -> dict:
    """What :func:`load_head` needs besides the encoder's own directory."""
    if isinstance(model, BiEncoder):
        return {"head": "biencoder", "scale": float(model.scale), "shift": float(model.shift)}
    return {"head": "pooled", "pooling": model.pooling, "num_labels": model.num_labels,
            "problem_type": model.problem_type,
            "marker_ids": [int(i) for i in model.marker_ids.tolist() if i >= 0]}


def save_head(model: nn.Module, out: Path) -> None:
    """The encoder as a Hugging Face directory, plus the head's weights and configuration."""
    from safetensors.torch import save_file

    out = Path(out)
    model.encoder.save_pretrained(str(out))
    own = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("encoder.")}
    save_file(own, str(out / HEAD_WEIGHTS))
    (out / HEAD_CONFIG).write_text(json.dumps(head_config(model), indent=2) + "\n", encoding="utf-8")


def load_head(path: Path) -> nn.Module:
    """The model :func:`save_head` wrote, in eval mode."""
    from safetensors.torch import load_file
    from transformers import AutoModel

    path = Path(path)
    config = json.loads((path / HEAD_CONFIG).read_text(encoding="utf-8"))
    encoder = AutoModel.from_pretrained(str(path))
    if config["head"] == "biencoder":
        model: nn.Module = BiEncoder(encoder)
    else:
        model = PooledClassifier(encoder, config["num_labels"], config["pooling"], config["problem_type"],
                                 config["marker_ids"])
    missing, unexpected = model.load_state_dict(load_file(str(path / HEAD_WEIGHTS)), strict=False)
    if unexpected or any(not k.startswith("encoder.") for k in missing):
        raise ValueError(f"{path / HEAD_WEIGHTS} does not match the head: missing {missing}, unexpected {unexpected}")
    return model.eval()


def marker_tokens(entity_masks: Sequence[str]) -> list[str]:
    """The marker tokens of a relation set's masks: ``("CHEMICAL", "GENE")`` → ``["@CHEMICAL$", "@GENE$"]``."""
    return list(dict.fromkeys(f"@{mask}$" for mask in entity_masks))


def add_entity_markers(tokenizer, entity_masks: Sequence[str]) -> list[int]:
    """Make each marker one token (WordPiece would cut ``@GENE$`` into ``@ gene $``) and return their ids.

    The encoder's embedding matrix must then grow to ``len(tokenizer)``; the new rows are trained.
    """
    tokenizer.add_tokens(marker_tokens(entity_masks), special_tokens=True)
    return tokenizer.convert_tokens_to_ids(marker_tokens(entity_masks))


class BiEncoderCollator:
    """Pads the two sentences of each bi-encoder feature separately (each to its own longest)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        def pad(suffix: str) -> dict[str, torch.Tensor]:
            rows = [{"input_ids": f[f"input_ids{suffix}"], "attention_mask": f[f"attention_mask{suffix}"]}
                    for f in features]
            return self.tokenizer.pad(rows, return_tensors="pt")

        a, b = pad(""), pad("_b")
        batch = {"input_ids": a["input_ids"], "attention_mask": a["attention_mask"],
                 "input_ids_b": b["input_ids"], "attention_mask_b": b["attention_mask"]}
        if "labels" in features[0]:
            batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.float32)
        return batch


def takes_token_types(encoder: nn.Module) -> bool:
    """Whether the encoder's forward has segment ids (BERT does; DistilBERT does not)."""
    import inspect

    return "token_type_ids" in inspect.signature(encoder.forward).parameters
