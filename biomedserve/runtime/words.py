"""Split raw biomedical text into words the way the BLURB NER corpora are tokenised.

The corpora (BC5CDR, NCBI, BC2GM, JNLPBA) keep runs of letters and digits together (``FK506``,
``17beta``, Greek letters included) and make every other non-space character its own token:
``Selegiline-induced`` → ``Selegiline`` ``-`` ``induced``, ``2,3-dimethyl`` → ``2`` ``,`` ``3``
``-`` ``dimethyl``, ``Na+`` → ``Na`` ``+``. Matching that at inference keeps the model on the
distribution it was trained on. Offsets index the original string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# \w is Unicode-aware: letters of any script (α, β, µ), digits and underscore.
_WORD = re.compile(r"[^\W_]+|\S", re.UNICODE)


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int


def split_words(text: str) -> list[Word]:
    """Words with character offsets such that ``text[w.start:w.end] == w.text``."""
    return [Word(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]
