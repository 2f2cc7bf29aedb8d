"""Split raw biomedical text into words the way the BLURB NER corpora are tokenised.

The corpora (BC5CDR, NCBI, BC2GM, JNLPBA) keep runs of letters and digits together (``FK506``,
``17beta``, Greek letters included) and make every other non-space character its own token:
``Selegiline-induced`` → ``Selegiline`` ``-`` ``induced``, ``2,3-dimethyl`` → ``2`` ``,`` ``3``
``-`` ``dimethyl``, ``Na+`` → ``Na`` ``+``. Matching that at inference keeps the model on the
distribution it was trained on. Offsets index the original string.

A combining mark (Unicode category M) belongs to the character before it, so ``Me\u0301thotrexate``
(NFD) is one word just as ``Méthotrexate`` (NFC) is.

JNLPBA is the exception: its GENIA tokenisation keeps ``IL-2``, ``NF-kappaB`` and ``-induced`` whole
(6.6% of its test tokens). :func:`resplit` cuts any pre-tokenised sequence into these same words, so
training, scoring and raw-text inference all see one segmentation.

The corpora are also cut into sentences, and a model only ever trains on one sentence at a time:
:func:`sentence_ranges` cuts raw text the same way, so the runtime can tag each sentence on its own.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

import regex

# Letters of any script (α, β, µ) and digits, each with the combining marks that follow it; any other
# non-space character (with its marks) is a word of its own. The stdlib ``re`` has no \p{M}.
_WORD = regex.compile(r"[\p{L}\p{N}][\p{L}\p{N}\p{M}]*|\S\p{M}*")
# A sentence ends at . ! or ? followed by space and a capital, a digit, or an opening bracket or quote
# (``i.v. cisplatin`` and ``2.5`` stay whole), or at a blank line.
_SENTENCE_BREAK = regex.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[\p{Lu}\p{N}])|\n[^\S\n]*\n\s*")


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int


def split_words(text: str) -> list[Word]:
    """Words with character offsets such that ``text[w.start:w.end] == w.text``."""
    return [Word(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def sentence_ranges(text: str, words: Sequence[Word]) -> list[range]:
    """The sentences of ``text`` as ranges of indices into ``words`` (its :func:`split_words`).

    Every word is in exactly one range, in order. Why: models train on single corpus sentences, so a
    sentence tagged alone looks like training data, and it gets the same tags wherever it occurs in a
    document; the rule reads only the characters around a break, never the document's length.
    """
    starts = [word.start for word in words]
    cuts = [bisect_left(starts, m.end()) for m in _SENTENCE_BREAK.finditer(text)]
    bounds = [0, *(c for c in cuts if 0 < c < len(words)), len(words)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:]) if a < b]


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` as strings, by the same rule as :func:`sentence_ranges` (HoC was
    annotated per sentence, so its classifier reads an abstract sentence by sentence)."""
    return [s for s in (part.strip() for part in _SENTENCE_BREAK.split(text)) if s]


def resplit(tokens: Sequence[str]) -> tuple[list[str], list[int]]:
    """Pre-tokenised words → the runtime's words, and for each the index of the token it came from.

    Why: a model trained on ``IL-2`` as one word but served ``IL`` ``-`` ``2`` from raw text loses
    entities at the seams; trained on the cut words, it scores the same from corpus tokens and from
    raw text (``benchmarks/segmentation.py``, figures in ``benchmarks/results/``). A token with no
    word characters at all (whitespace) stays as it is, so every token owns at least one word.
    """
    words: list[str] = []
    owner: list[int] = []
    for index, token in enumerate(tokens):
        pieces = [w.text for w in split_words(token)] or [token]
        words += pieces
        owner += [index] * len(pieces)
    return words, owner


def first_words(owner: Sequence[int]) -> list[int]:
    """Positions of each token's first word: where a token's tag and score are read back."""
    return [k for k, token in enumerate(owner) if k == 0 or owner[k - 1] != token]


def spread_tags(tags: Sequence[str], owner: Sequence[int]) -> list[str]:
    """A token's tag over its words: the first word keeps it, later words continue the entity
    (``B-X``/``I-X`` → ``I-X``; PICO's IO tags stay ``I-X``) or stay ``O``."""
    firsts = set(first_words(owner))
    return [tags[t] if k in firsts or tags[t] == "O" else "I-" + tags[t].partition("-")[2]
            for k, t in enumerate(owner)]
