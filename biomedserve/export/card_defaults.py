"""What a served NER model does when the caller does not say, chosen on dev after training and
written into its card, like the default ONNX variant.

- The guideline view: a model trained on corpora that annotate one type to different guidelines has a
  head per guideline (``GENE@BC2GM``, ``GENE@BioNLP``, :mod:`biomedserve.runtime.multi_ner`); which one
  answers for ``GENE`` is ``guideline_defaults`` (``biomedserve export --guideline GENE=BioNLP``).
- Abbreviation resolution (:mod:`biomedserve.runtime.abbreviations`): ``resolve_abbreviations``
  (``biomedserve export --abbreviations on``).
- The species lexicon (:mod:`biomedserve.runtime.species_lexicon`): ``species_lexicon``
  (``biomedserve export --species-lexicon on``), for models that find SPECIES.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from biomedserve.errors import ModelDirError
from biomedserve.modeldir.card import read_meta, write_meta
from biomedserve.modeldir.task_types import TASK_TYPES, OutputKind
from biomedserve.runtime.multi_ner import head_guidelines, parse_type_head_labels, select_view
from biomedserve.runtime.predictor import InputError


def set_guideline_defaults(model_dir: str | Path, defaults: Mapping[str, str]) -> dict[str, str]:
    """Make ``defaults`` (type → guideline) the model's default view; returns the whole mapping now
    in the card. A type or guideline the model has no head for is a :class:`ModelDirError` listing
    the ones it knows; nothing is written then."""
    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    try:
        heads = parse_type_head_labels(meta.labels)
    except ValueError:
        raise ModelDirError(f"{model_dir} is not a multi-type NER model; only those have guideline heads") from None
    if not head_guidelines(heads):
        raise ModelDirError(f"{model_dir} has one head per entity type; there is no guideline to choose")
    try:
        select_view(dict(defaults), heads, {}, meta.name)
    except InputError as exc:
        raise ModelDirError(str(exc)) from None
    meta.guideline_defaults = {**meta.guideline_defaults, **defaults}
    write_meta(model_dir, meta)
    return dict(meta.guideline_defaults)


def set_abbreviation_resolution(model_dir: str | Path, on: bool) -> None:
    """Whether the model resolves abbreviations by default; only NER models have entities to resolve."""
    from biomedserve.runtime import builtin  # noqa: F401  (registers the built-in task types)

    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    task_type = TASK_TYPES.get(meta.task)
    if task_type is None or task_type.output_kind is not OutputKind.ENTITIES:
        raise ModelDirError(f"{model_dir} is a {meta.task} model; abbreviations are resolved on NER entities only")
    meta.resolve_abbreviations = on
    write_meta(model_dir, meta)


def set_species_lexicon(model_dir: str | Path, on: bool) -> None:
    """Whether the model merges the NCBI Taxonomy lexicon's species into its entities by default; only
    a model that finds SPECIES can (turning it off is always allowed)."""
    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    if on and "SPECIES" not in (meta.entity_types or []):
        raise ModelDirError(f"{model_dir} finds no SPECIES (its types: {', '.join(meta.entity_types or []) or 'none'}); "
                            "the species lexicon adds to a species tagger")
    meta.species_lexicon = on
    write_meta(model_dir, meta)
