"""The species lexicon beside the tagger: NCBI Taxonomy names the model missed or cut, added as SPECIES.

The names are :func:`biomedserve.text.species_names.find_species`'s. Each match, against the model's
SPECIES entities only (entities of other types are left as they are, overlapping or not):

- overlapping none is added (``potato``, which LINNAEUS's training text never names);
- containing every one it overlaps replaces them (the tagger's ``B.`` of ``B. mallei`` becomes ``B. mallei``);
- crossing an entity's edge, or inside one, is left: the tagger's span stands.

A lexicon entity scores 1.0, or the best score of the entities it replaces. Offsets
are the text's; no other entity moves.
"""

from __future__ import annotations

from collections.abc import Sequence

from biomedserve.runtime.results import Entities, Entity
from biomedserve.text.species_names import find_species
from biomedserve.text.words import Word

LABEL = "SPECIES"


def add_lexicon_species(text: str, entities: Sequence[Entity], label: str = LABEL,
                        words: Sequence[Word] | None = None) -> Entities:
    """``entities`` of ``text`` with the lexicon's species merged in (see the module), in text order;
    ``words``: the text's :func:`biomedserve.text.words.split_words`, where the caller has them already."""
    species = [e for e in entities if e.label == label]
    others = [e for e in entities if e.label != label]
    for start, end in find_species(text, words):
        overlapping = [e for e in species if e.start < end and start < e.end]
        if overlapping and not all(start <= e.start and e.end <= end for e in overlapping):
            continue
        if len(overlapping) == 1 and (overlapping[0].start, overlapping[0].end) == (start, end):
            continue
        score = max(e.score for e in overlapping) if overlapping else 1.0
        species = [e for e in species if e not in overlapping]
        species.append(Entity(start, end, text[start:end], label, score))
    return Entities(sorted(others + species, key=lambda e: (e.start, e.end, e.label)))
