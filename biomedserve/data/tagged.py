"""Reader for token-per-line tagged files: the BLURB NER sets and EBM-PICO.

Format: ``token<TAB>tag`` per line, a blank line ends a sentence, and ``-DOCSTART- <id>`` (JNLPBA,
EBM-PICO) opens a document. Streaming, so a 400k-line file costs one sentence of memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from biomedserve.data.lines import iter_lines
from biomedserve.data.records import TaggedSentence
from biomedserve.errors import DataFormatError

_DOCSTART = re.compile(r"^-DOCSTART-\s*\(?([^)\s]*)\)?\s*$")


def read_tagged_tsv(path: str | Path, allowed_tags: frozenset[str]) -> Iterator[TaggedSentence]:
    """Yield sentences from ``path``; a line with a bad shape or tag raises with file and line."""
    path = Path(path)
    tokens: list[str] = []
    tags: list[str] = []
    doc_id: str | None = None
    doc_index: int | None = None
    for lineno, line in iter_lines(path):
        if not line.strip():
            if tokens:
                yield TaggedSentence(tokens, tags, doc_id, doc_index)
                tokens, tags = [], []
            continue
        match = _DOCSTART.match(line)
        if match:
            if tokens:
                yield TaggedSentence(tokens, tags, doc_id, doc_index)
                tokens, tags = [], []
            doc_id = match.group(1) or None
            doc_index = 0 if doc_index is None else doc_index + 1
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0]:
            raise DataFormatError(path, lineno, f"expected 'token<TAB>tag', got {line[:80]!r}")
        token, tag = parts
        if tag not in allowed_tags:
            raise DataFormatError(path, lineno, f"unknown tag {tag!r}; expected one of {sorted(allowed_tags)}")
        tokens.append(token)
        tags.append(tag)
    if tokens:
        yield TaggedSentence(tokens, tags, doc_id, doc_index)


def read_typed_tsv(path: str | Path, entity_type: str) -> Iterator[TaggedSentence]:
    """Sentences of a one-type file tagged ``B-<type>`` / ``I-<type>`` / ``O`` (the extra corpora), as
    untyped B/I/O like the BLURB NER sets; a tag of another type raises with file and line."""
    allowed = frozenset({"O", f"B-{entity_type}", f"I-{entity_type}"})
    for sentence in read_tagged_tsv(path, allowed_tags=allowed):
        yield TaggedSentence(sentence.tokens, [tag.partition("-")[0] for tag in sentence.tags],
                             sentence.doc_id, sentence.doc_index)
