"""The model directory's ``tokenizer.json`` run by the ``tokenizers`` library alone.

Why not transformers' ``AutoTokenizer``: importing transformers loads PyTorch and scikit-learn
where they are installed, and the serving process runs ONNX Runtime only. transformers' fast
tokenizers are a thin layer over this same Rust tokenizer; :class:`RuntimeTokenizer` reproduces the
two calls ``biomedserve.text.encoding`` makes (pre-split words without specials; a text or pair with
specials, cut ``longest_first``), so training features and runtime inputs stay identical — a test
compares both on the same texts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from biomedserve.errors import ModelDirError

CONFIG_FILE = "tokenizer_config.json"
TOKENIZER_FILE = "tokenizer.json"
SPECIAL_TOKENS = ("cls_token", "sep_token", "pad_token", "unk_token")


def _token_text(value: Any) -> str | None:
    """A special token as the config stores it: a string or an ``AddedToken`` dict."""
    return value.get("content") if isinstance(value, dict) else value


def _normalizer_from_config(spec: dict, config: dict) -> dict:
    """Apply the config's casing options to a BERT normalizer, as transformers' fast BERT tokenizer
    does when it loads (the config wins where the two disagree)."""
    normalizer = spec.get("normalizer") or {}
    if normalizer.get("type") == "BertNormalizer":
        for option, key in (("lowercase", "do_lower_case"), ("strip_accents", "strip_accents"),
                            ("handle_chinese_chars", "tokenize_chinese_chars")):
            if key in config:
                normalizer[option] = config[key]
    return spec


class _WordEncoding:
    """The result of encoding pre-split words: ``["input_ids"]`` per row and ``word_ids(row)``."""

    def __init__(self, encodings):
        self.encodings = encodings
        self._ids: list[list[int]] | None = None

    def __getitem__(self, key: str) -> list[list[int]]:
        """Built once: callers index it per row, and rebuilding it per row made a batch quadratic in its size."""
        if key != "input_ids":
            raise KeyError(key)
        if self._ids is None:
            self._ids = [e.ids for e in self.encodings]
        return self._ids

    def word_ids(self, row: int) -> list[int | None]:
        return self.encodings[row].word_ids


class RuntimeTokenizer:
    """A model directory's tokenizer, callable as ``biomedserve.text.encoding`` calls a tokenizer.

    Its state (no padding; truncation at ``max_length`` for texts and pairs) is fixed at load,
    never changed per call, so threads may share one instance.
    """

    def __init__(self, model_dir: str | Path, max_length: int):
        model_dir = Path(model_dir)
        try:
            config = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
            spec = _normalizer_from_config(json.loads((model_dir / TOKENIZER_FILE).read_text(encoding="utf-8")), config)
            words = Tokenizer.from_str(json.dumps(spec))
        except Exception as exc:  # JSON, UTF-8 and the Rust deserialiser each raise their own type
            raise ModelDirError(f"{model_dir}: tokenizer could not be loaded: {exc}") from None
        words.no_padding()
        words.no_truncation()
        texts = Tokenizer.from_str(words.to_str())
        texts.enable_truncation(max_length, strategy="longest_first",
                                direction=config.get("truncation_side", "right"))
        self._words, self._texts, self.max_length = words, texts, max_length
        for name in SPECIAL_TOKENS:
            token = _token_text(config.get(name))
            setattr(self, f"{name}_id", words.token_to_id(token) if token is not None else None)
        if self.cls_token_id is None or self.sep_token_id is None:
            raise ModelDirError(f"{model_dir}: {CONFIG_FILE} names no [CLS]/[SEP] tokens of the vocabulary")

    def __call__(self, text, text_pair: str | None = None, *, is_split_into_words: bool = False,
                 add_special_tokens: bool = True, truncation: str | None = None, max_length: int | None = None,
                 verbose: bool = True):
        """``tokenizer(word_lists, is_split_into_words=True, add_special_tokens=False)`` or
        ``tokenizer(text, pair, truncation="longest_first", max_length=<the model's>)``."""
        if is_split_into_words:
            if text_pair is not None or add_special_tokens or truncation:
                raise TypeError("pre-split words are encoded one sequence each, without specials or truncation")
            return _WordEncoding(self._words.encode_batch([list(words) for words in text],
                                                          is_pretokenized=True, add_special_tokens=False))
        if truncation != "longest_first" or max_length != self.max_length or not add_special_tokens:
            raise TypeError(f"texts are encoded with specials, cut longest_first at {self.max_length}")
        # an empty second text is no second text, as transformers has it: ``[CLS] a [SEP]``
        encoding = self._texts.encode(text, text_pair) if text_pair else self._texts.encode(text)
        return {"input_ids": encoding.ids, "token_type_ids": encoding.type_ids,
                "attention_mask": encoding.attention_mask}
