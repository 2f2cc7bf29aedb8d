"""Abbreviation definitions in running text: Schwartz & Hearst (2003), with character offsets.

*A simple algorithm for identifying abbreviation definitions in biomedical text* (PSB 2003) finds
``long form (short form)`` pairs, and ``short form (long form)`` where the parentheses hold more than
two words. A short-form candidate has 2–10 characters, at most two words, a letter, and starts with a
letter or digit; its long form is searched in the ``min(|SF| + 5, 2·|SF|)`` words before the
parenthesis: each character of the short form, right to left, must appear in the long form, right to
left, the first one at the start of a word. The shortest long form that matches wins.

scispaCy's ``AbbreviationDetector`` implements the same algorithm but pins numpy < 2 and nmslib, which
our stack cannot take; the ``abbreviations`` package (2019) returns no offsets. Hence this module.
It only reads text: every pair is a pair of ``(start, end)`` spans into the string given, so what
uses it (:mod:`biomedserve.runtime.abbreviations`) can never move an offset.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_WORD = re.compile(r"\S+")
_MAX_SHORT = 10


@dataclass(frozen=True)
class Abbreviation:
    """One definition: ``text[long_start:long_end]`` is defined as ``text[short_start:short_end]``."""

    short_start: int
    short_end: int
    long_start: int
    long_end: int
    short: str
    long: str


def _is_short_form(candidate: str) -> bool:
    """S&H's short-form test: 2–10 characters, at most two words, a letter, a letter or digit first."""
    return (2 <= len(candidate) <= _MAX_SHORT and len(candidate.split()) <= 2
            and any(c.isalpha() for c in candidate) and candidate[0].isalnum())


def best_long_form(short: str, long: str) -> int | None:
    """Where in ``long`` the long form of ``short`` starts (S&H's ``findBestLongForm``), or None.

    Right to left, each letter or digit of ``short`` is matched in ``long``; the first one must also
    start a word of ``long``. The match starts at the beginning of the word holding it.
    """
    s_index, l_index = len(short) - 1, len(long) - 1
    while s_index >= 0:
        char = short[s_index].lower()
        if not char.isalnum():
            s_index -= 1
            continue
        while l_index >= 0 and (long[l_index].lower() != char
                                or (s_index == 0 and l_index > 0 and long[l_index - 1].isalnum())):
            l_index -= 1
        if l_index < 0:
            return None
        l_index -= 1
        s_index -= 1
    return long.rfind(" ", 0, l_index + 1) + 1


def _paired(text: str) -> Iterator[tuple[int, int]]:
    """``(open, close)`` index of each innermost-balanced parenthesis pair, left to right."""
    stack: list[int] = []
    for index, char in enumerate(text):
        if char == "(":
            stack.append(index)
        elif char == ")" and stack:
            yield stack.pop(), index


def _pair(text: str, long_window: tuple[int, int], short_span: tuple[int, int]) -> Abbreviation | None:
    """The definition of ``text[short_span]`` in ``text[long_window]`` (the words before it), if any."""
    short = text[short_span[0]:short_span[1]]
    if not _is_short_form(short):
        return None
    words = list(_WORD.finditer(text, *long_window))
    limit = min(len(short) + 5, 2 * len(short))
    words = words[-limit:]
    if not words:
        return None
    window_start = words[0].start()
    window = text[window_start:long_window[1]].rstrip()
    found = best_long_form(short, window)
    if found is None:
        return None
    long_start = window_start + found
    long = text[long_start:window_start + len(window)]
    long_words = len(long.split())
    if long_words > limit or len(long) <= len(short) or short.lower() in long.lower().split():
        return None
    return Abbreviation(short_span[0], short_span[1], long_start, long_start + len(long), short, long)


def find_abbreviations(text: str) -> list[Abbreviation]:
    """Every abbreviation definition in ``text``, in text order (one per parenthesis at most).

    ``long form (SF)`` is tried first; where the parentheses hold more than two words, ``SF (long
    form)``. A short form ends at the first ``;`` or ``,`` inside the parentheses (``(TNF; ref. 3)``).
    """
    found: list[Abbreviation] = []
    for open_, close in sorted(_paired(text)):
        inside_start, inside_end = open_ + 1, close
        inner = text[inside_start:inside_end]
        cut = min((inner.find(c) for c in ";," if c in inner), default=-1)
        if cut >= 0:
            inside_end = inside_start + cut
        # strip surrounding blanks of the candidate without moving its offsets off the text
        stripped = text[inside_start:inside_end]
        lead = len(stripped) - len(stripped.lstrip())
        s_start, s_end = inside_start + lead, inside_start + len(stripped.rstrip())
        if s_start >= s_end:
            continue
        if len(text[s_start:s_end].split()) <= 2:
            pair = _pair(text, (_sentence_start(text, open_), open_), (s_start, s_end))
        else:  # short form (long form): the word before the parenthesis is the candidate
            before = list(_WORD.finditer(text, _sentence_start(text, open_), open_))
            if not before:
                continue
            short_span = (before[-1].start(), before[-1].end())
            pair = _swap(text, short_span, (s_start, s_end))
        if pair is not None:
            found.append(pair)
    return found


def _swap(text: str, short_span: tuple[int, int], long_span: tuple[int, int]) -> Abbreviation | None:
    """``SF (long form)``: the long form is the parenthesised text, matched the same way."""
    short = text[short_span[0]:short_span[1]]
    if not _is_short_form(short):
        return None
    long = text[long_span[0]:long_span[1]]
    found = best_long_form(short, long)
    if found is None:
        return None
    start = long_span[0] + found
    candidate = text[start:long_span[1]]
    if len(candidate.split()) > min(len(short) + 5, 2 * len(short)) or len(candidate) <= len(short):
        return None
    return Abbreviation(short_span[0], short_span[1], start, long_span[1], short, candidate)


def _sentence_start(text: str, index: int) -> int:
    """Where the sentence holding ``index`` starts (after the last '. ' before it): a long form does
    not reach into the previous sentence."""
    cut = max(text.rfind(". ", 0, index), text.rfind("\n", 0, index))
    return 0 if cut < 0 else cut + 1


def occurrences(text: str, short: str) -> list[tuple[int, int]]:
    """Every place ``short`` stands as a whole token in ``text`` (not inside a longer word)."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(short)}(?![\w-])")
    return [(m.start(), m.end()) for m in pattern.finditer(text)]
