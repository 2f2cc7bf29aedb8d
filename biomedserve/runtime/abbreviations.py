"""Document-level abbreviation resolution: an abbreviation takes the type of its long form everywhere.

A tagger decides each mention from its sentence alone, so ``TNF`` may be a gene in one sentence and
nothing in the next, and ``AR`` may be found where ``androgen receptor (AR)`` was not. Once the text
defines an abbreviation (:func:`biomedserve.text.abbreviations.find_abbreviations`), one sense per
document is the better bet (Schwartz & Hearst's premise; HunFlair and PubTator post-process the same
way). For each definition, the types of the entities that end where the long form ends are its
types; every whole-token occurrence of the short form then

- keeps the entities it has of those types, and gets the missing ones (score: the long form's);
- loses the entities of other types (with ``drop_unsupported``, also every entity when the long form
  is no entity at all: ``polymerase chain reaction (PCR)``).

Each entity at a short form names the long form (``abbreviation_of``). Only spans of the text given
are added or removed; no offset is ever moved (entities that merely overlap a short form stay).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from biomedserve.runtime.results import Entities, Entity
from biomedserve.text.abbreviations import find_abbreviations, occurrences


def resolve_abbreviations(text: str, entities: Sequence[Entity], drop_unsupported: bool = True) -> Entities:
    """``entities`` of ``text`` made consistent with the abbreviations ``text`` defines (see the module)."""
    result = list(entities)
    seen: set[str] = set()
    for pair in find_abbreviations(text):
        if pair.short in seen:  # the first definition holds for the whole document
            continue
        seen.add(pair.short)
        sources = {}
        for e in result:
            if e.end == pair.long_end and e.start < pair.long_end and e.end > pair.long_start:
                sources.setdefault(e.label, e)
        if not sources and not drop_unsupported:
            continue
        spots = set(occurrences(text, pair.short))
        kept = []
        for e in result:
            if (e.start, e.end) in spots:
                if e.label in sources:
                    kept.append(replace(e, abbreviation_of=pair.long))
                continue  # another type than the long form's (or the long form is no entity)
            kept.append(e)
        present = {(e.start, e.end, e.label) for e in kept}
        for start, end in sorted(spots):
            for label, source in sources.items():
                if (start, end, label) not in present:
                    kept.append(Entity(start, end, text[start:end], label, source.score, source.guideline,
                                       pair.long))
        result = kept
    return Entities(sorted(result, key=lambda e: (e.start, e.end, e.label)))
