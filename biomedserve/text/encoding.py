"""Model inputs from words, texts and pairs, shared by training and inference so both see identical inputs.

A sequence of words becomes ``[CLS] pieces... [SEP]``; the label of a word sits on its first
sub-word. A sequence longer than the model's budget is cut into overlapping windows of whole words
(never truncated); each word later takes its prediction from the window where it has the most
context on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# any tokenizer called like transformers' fast tokenizers: theirs in training, the runtime's
# ``tokenizers``-only one at inference (biomedserve.runtime.tokenizer)
Tokenizer = Any


@dataclass(frozen=True)
class Window:
    """One model input: the sub-word ids and, per word in ``[start, end)``, its first-piece index."""

    seq: int
    start: int
    end: int
    input_ids: list[int]
    first_piece: list[int]


def word_pieces(tokenizer: Tokenizer, words: list[str]) -> list[list[int]]:
    """Sub-word ids per word; a word the tokenizer drops (e.g. a stray control char) becomes [UNK]."""
    return word_pieces_batch(tokenizer, [words])[0]


def word_pieces_batch(tokenizer: Tokenizer, sequences: Sequence[Sequence[str]]) -> list[list[list[int]]]:
    """:func:`word_pieces` for many sequences in one tokenizer call.

    One call lets the Rust tokenizer work through the whole batch at once (in parallel threads);
    a call per sentence cost the int8 runtime a tenth of its time in Python overhead.
    """
    result: list[list[list[int]]] = [[] for _ in sequences]
    todo = [i for i, words in enumerate(sequences) if words]
    if not todo:
        return result
    encoding = tokenizer([list(sequences[i]) for i in todo], is_split_into_words=True,
                         add_special_tokens=False, verbose=False)
    unk = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
    ids = encoding["input_ids"]  # once: a row's ids are read from the whole batch's
    for row, index in enumerate(todo):
        pieces: list[list[int]] = [[] for _ in sequences[index]]
        for piece_id, word_id in zip(ids[row], encoding.word_ids(row)):
            if word_id is not None:
                pieces[word_id].append(piece_id)
        result[index] = [p or [unk] for p in pieces]
    return result


def make_windows(
    seq: int,
    pieces: list[list[int]],
    cls_id: int,
    sep_id: int,
    max_length: int,
    stride_fraction: float = 0.5,
) -> list[Window]:
    """Cut one sequence into windows of at most ``max_length`` sub-words (specials included).

    Consecutive windows overlap by about ``1 - stride_fraction`` of a window, so every word that
    is not at the very start or end of the text is seen with context on both sides. A single word
    longer than the budget is clipped to its first pieces (its label sits on the first anyway).
    """
    budget = max_length - 2
    clipped = [p[:budget] for p in pieces]
    n = len(clipped)
    windows: list[Window] = []
    start = 0
    while True:
        end, used = start, 0
        while end < n and used + len(clipped[end]) <= budget:
            used += len(clipped[end])
            end += 1
        ids, first = [cls_id], []
        for p in clipped[start:end]:
            first.append(len(ids))
            ids.extend(p)
        ids.append(sep_id)
        windows.append(Window(seq, start, end, ids, first))
        if end >= n:
            return windows
        # advance by a fraction of the sub-words used, whole words at a time, at least one word
        advance, target = start, used * stride_fraction
        consumed = 0
        while advance < end - 1 and consumed + len(clipped[advance]) <= target:
            consumed += len(clipped[advance])
            advance += 1
        start = max(advance, start + 1)


def best_window_per_word(windows: list[Window], n_words: int) -> list[tuple[int, int]]:
    """For each word, ``(window index, position in window)`` of the window giving it most context."""
    best: list[tuple[int, int, int]] = [(-1, -1, -1)] * n_words
    for w_index, window in enumerate(windows):
        for offset, word in enumerate(range(window.start, window.end)):
            margin = min(word - window.start, window.end - 1 - word)
            if margin > best[word][0]:
                best[word] = (margin, w_index, offset)
    return [(w, o) for _, w, o in best]


def encode_pair(tokenizer: Tokenizer, text_a: str, text_b: str | None, max_length: int, single_segment: bool) -> dict:
    """Token ids for a text or pair; a pair too long is cut from its longer text (the context in QA).

    ``single_segment`` gives every token segment id 0 — the paper found this better for PubMedQA
    with models pre-trained without next-sentence prediction.
    """
    encoded = tokenizer(text_a, text_b, truncation="longest_first", max_length=max_length)
    if "token_type_ids" in encoded and single_segment:
        encoded["token_type_ids"] = [0] * len(encoded["input_ids"])
    return dict(encoded)


def mask_entities(text: str, first: tuple[int, int, str], second: tuple[int, int, str]) -> str:
    """Replace two non-overlapping character spans with ``@TYPE$`` masks, as the BLURB RE sets are.

    ``first``/``second`` are ``(start, end, type)``; the result is what the relation models read.
    """
    spans = sorted([first, second])
    if spans[0][1] > spans[1][0]:
        raise ValueError("the two entity spans overlap")
    (s1, e1, t1), (s2, e2, t2) = spans
    return f"{text[:s1]}@{t1}${text[e1:s2]}@{t2}${text[e2:]}"
