"""The BLURB datasets and the extra NER training corpora: one entry each, naming its task type, files,
labels and reader.

Adding a dataset means adding an entry here; nothing else branches on dataset names. ``DATASETS`` are
BLURB's (the BLURB score averages them), ``CORPORA`` the extra NER training corpora (read from their own
folder, :func:`~biomedserve.data.location.resolve_corpora_dir`), ``DERIVED`` sets built from both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from itertools import chain, zip_longest
from pathlib import Path
from typing import Any

from biomedserve.data.location import resolve_corpora_dir, resolve_data_dir
from biomedserve.data.pubmedqa import read_pubmedqa
from biomedserve.data.records import TaggedSentence, TypedLayersSentence
from biomedserve.data.tables import read_bioasq, read_biosses, read_hoc, read_relation_tsv
from biomedserve.data.tagged import read_tagged_tsv, read_typed_tsv
from biomedserve.errors import DataNotFoundError

SPLITS = ("train", "dev", "test")
BIO_TAGS = frozenset({"B", "I", "O"})
PICO_TAGS = frozenset({"O", "I-PAR", "I-INT", "I-OUT"})


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is and how to read it.

    ``task`` is the BLURB task type (``ner``, ``pico``, ``relation``, ``similarity``,
    ``doc_classification``, ``qa``). ``entity_type`` names the entities of an untyped BLURB NER
    set (BLURB strips types; we put them back so models emit meaningful labels). ``labels`` is the
    class inventory of classification sets. ``guideline`` names the annotation guideline an NER set
    follows where sets of one type disagree on what a mention is (BC2GM's genes against the BioNLP shared
    tasks' "gene or gene product"); ``home`` is ``"blurb"`` or ``"corpora"``, the folder it is read from.
    """

    name: str
    task: str
    files: dict[str, str]
    read: Callable[[Path], Iterable[Any]]
    labels: tuple[str, ...] = ()
    entity_type: str | None = None
    negative: str | None = None  # relation extraction: the "no relation" class, not scored
    entity_masks: tuple[str, str] | None = None  # relation extraction: the two entity types as masked
    optional_splits: frozenset[str] = frozenset()  # splits that may be absent (EBM-PICO train)
    guideline: str | None = None
    home: str = "blurb"

    def root(self, data_dir: str | Path | None = None) -> Path:
        """The dataset's folder (``data_dir`` is the BLURB folder; the extra corpora sit beside it)."""
        base = resolve_corpora_dir(data_dir) if self.home == "corpora" else resolve_data_dir(data_dir)
        return base / self.name

    def available_splits(self, data_dir: str | Path | None = None) -> list[str]:
        """Splits whose files are there (a required split that is missing still raises on load)."""
        root = self.root(data_dir)
        return [s for s in self.files if s not in self.optional_splits or (root / self.files[s]).is_file()]

    def path(self, split: str, data_dir: str | Path | None = None) -> Path:
        """The file of ``split``, or a clear error naming the dataset, split and path."""
        if split not in self.files:
            raise DataNotFoundError(
                f"{self.name} has no {split!r} split here; available: {', '.join(self.files)}"
            )
        path = self.root(data_dir) / self.files[split]
        if not path.is_file():
            hint = " (not staged here; MANIFEST.md says how to rebuild it)" if split in self.optional_splits else ""
            raise DataNotFoundError(f"{self.name} {split} split not found: looked for {path}{hint}")
        return path

    def load(self, split: str, data_dir: str | Path | None = None) -> list[Any]:
        """Read a whole split into typed records."""
        return list(self.read(self.path(split, data_dir)))

    @property
    def entity_types(self) -> tuple[str, ...]:
        return (self.entity_type,) if self.entity_type else ()

    @property
    def corpus_types(self) -> dict[str, tuple[str, ...]]:
        """Which entity types each corpus of the set annotates (NER sets; empty for the others)."""
        return {self.name: self.entity_types} if self.entity_types else {}

    def source_paths(self, split: str, data_dir: str | Path | None = None) -> list[Path]:
        """Every file a split is read from (provenance checksums them all)."""
        return [self.path(split, data_dir)]


@dataclass(frozen=True)
class MergedNerSpec(DatasetSpec):
    """An NER set made of several BLURB sets over the same sentences, one tag layer each.

    BC5-chem and BC5-disease annotate the same BC5CDR sentences, one type each; merged, they are
    the joint CHEMICAL + DISEASE set that scispaCy's ``en_ner_bc5cdr_md`` is trained on. Where two
    layers tag the same token (rare), the earlier source wins and the later entity is dropped
    whole, so the merged tags stay valid IOB2.
    """

    sources: tuple[str, ...] = ()

    def path(self, split: str, data_dir: str | Path | None = None) -> Path:
        return DATASETS[self.sources[0]].path(split, data_dir)

    def source_paths(self, split: str, data_dir: str | Path | None = None) -> list[Path]:
        return [DATASETS[name].path(split, data_dir) for name in self.sources]

    def available_splits(self, data_dir: str | Path | None = None) -> list[str]:
        return list(self.files)

    def load(self, split: str, data_dir: str | Path | None = None) -> list[Any]:
        layers = [(DATASETS[name].entity_type, DATASETS[name].load(split, data_dir)) for name in self.sources]
        return merge_tag_layers(layers, self.name)

    @property
    def entity_types(self) -> tuple[str, ...]:
        return tuple(DATASETS[name].entity_type for name in self.sources)


@dataclass(frozen=True)
class MultiTypeNerSpec(DatasetSpec):
    """Several NER sets, each annotating its own entity types, joined to train one multi-type model.

    A record is a :class:`~biomedserve.data.records.TypedLayersSentence`: the tokens, one untyped tag
    layer per type its corpus annotates (a merged source such as BC5CDR keeps both of its layers, so
    a chemical inside a disease name is kept, not dropped as in the merge), and the corpus name. A
    type the corpus does not annotate is unknown in its sentences, not absent.

    Each split is the sources' same split. Records alternate between the sources (the first of each,
    then the second of each, ...), every source keeping its file order, so the first N records
    (``--limit-train``) sample every corpus.

    With ``guidelines``, a type that sources annotate to different guidelines gets one head type per
    guideline, ``<type>@<guideline>`` (``GENE@BC2GM``, ``GENE@BioNLP``): corpora that disagree on what a
    mention is train separate heads over the shared encoder instead of fighting over one (AIONER's idea,
    as heads rather than an input marker), and the served model picks a default view per type.
    """

    sources: tuple[str, ...] = ()
    guidelines: bool = False

    def _parts(self, source: str) -> list[DatasetSpec]:
        spec = get_dataset(source)
        return [DATASETS[name] for name in spec.sources] if isinstance(spec, MergedNerSpec) else [spec]

    def _layers(self, source: str) -> list[tuple[str, DatasetSpec]]:
        """``(head type, single-type set)`` for each type ``source`` annotates."""
        split = self._split_types()
        return [(f"{part.entity_type}@{part.guideline}" if part.entity_type in split else part.entity_type, part)
                for part in self._parts(source)]

    def _split_types(self) -> frozenset[str]:
        """The types annotated to more than one guideline across the sources (one head each)."""
        if not self.guidelines:
            return frozenset()
        seen: dict[str, set[str | None]] = {}
        for source in self.sources:
            for part in self._parts(source):
                seen.setdefault(part.entity_type, set()).add(part.guideline)
        return frozenset(t for t, kinds in seen.items() if len(kinds) > 1)

    @property
    def corpus_types(self) -> dict[str, tuple[str, ...]]:
        return {source: tuple(t for t, _ in self._layers(source)) for source in self.sources}

    @property
    def entity_types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(chain.from_iterable(self.corpus_types.values())))

    def path(self, split: str, data_dir: str | Path | None = None) -> Path:
        return self.source_paths(split, data_dir)[0]

    def source_paths(self, split: str, data_dir: str | Path | None = None) -> list[Path]:
        return [part.path(split, data_dir) for source in self.sources for _, part in self._layers(source)]

    def available_splits(self, data_dir: str | Path | None = None) -> list[str]:
        return list(self.files)

    def load(self, split: str, data_dir: str | Path | None = None) -> list[Any]:
        per_source = [self._load_source(source, split, data_dir) for source in self.sources]
        return [record for group in zip_longest(*per_source) for record in group if record is not None]

    def _load_source(self, source: str, split: str, data_dir: str | Path | None) -> list[TypedLayersSentence]:
        layers = [(entity_type, part.load(split, data_dir)) for entity_type, part in self._layers(source)]
        (_, first), *_ = layers
        records = []
        for index, sentence in enumerate(first):
            tags: dict[str, list[str]] = {}
            for entity_type, sentences in layers:
                if index >= len(sentences) or sentences[index].tokens != sentence.tokens:
                    raise DataNotFoundError(f"{self.name}: {source} sentence {index} differs between its "
                                            f"{', '.join(t for t, _ in layers)} layers")
                tags[entity_type] = sentences[index].tags
            records.append(TypedLayersSentence(sentence.tokens, tags, source, sentence.doc_id, sentence.doc_index))
        return records


def merge_tag_layers(layers: list[tuple[str, list[TaggedSentence]]], name: str) -> list[TaggedSentence]:
    """Typed IOB2 tags from untyped layers over identical token sequences."""
    merged = []
    (_, first), *_ = layers
    for index, sentence in enumerate(first):
        tags = ["O"] * len(sentence.tokens)
        for entity_type, sentences in layers:
            other = sentences[index]
            if other.tokens != sentence.tokens:
                raise DataNotFoundError(f"{name}: sentence {index} differs between the merged sets")
            for start, end in _spans(other.tags):
                if all(t == "O" for t in tags[start:end]):
                    tags[start] = f"B-{entity_type}"
                    for i in range(start + 1, end):
                        tags[i] = f"I-{entity_type}"
        merged.append(TaggedSentence(sentence.tokens, tags, sentence.doc_id, sentence.doc_index))
    return merged


def _spans(tags: list[str]) -> list[tuple[int, int]]:
    spans, start = [], None
    for i, tag in enumerate(tags + ["O"]):
        if start is not None and tag != "I":
            spans.append((start, i))
            start = None
        if tag == "B":
            start = i
    return spans


def _ner(name: str, entity_type: str, guideline: str | None = None) -> DatasetSpec:
    files = {split: f"{split}.tsv" for split in SPLITS}
    return DatasetSpec(name, "ner", files, partial(read_tagged_tsv, allowed_tags=BIO_TAGS),
                       entity_type=entity_type, guideline=guideline)


def _corpus(name: str, entity_type: str, guideline: str | None = None) -> DatasetSpec:
    """An extra training corpus: typed ``B-<type>`` tags, read as the BLURB sets' untyped ones."""
    files = {split: f"{split}.tsv" for split in SPLITS}
    return DatasetSpec(name, "ner", files, partial(read_typed_tsv, entity_type=entity_type),
                       entity_type=entity_type, guideline=guideline, home="corpora")


_CHEMPROT = ("CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9", "false")
_DDI = ("DDI-advise", "DDI-effect", "DDI-int", "DDI-mechanism", "DDI-false")
_TSV = {split: f"{split}.tsv" for split in SPLITS}

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        _ner("BC5-chem", "CHEMICAL"),
        _ner("BC5-disease", "DISEASE"),
        _ner("NCBI-disease", "DISEASE"),
        _ner("BC2GM", "GENE", guideline="BC2GM"),
        _ner("JNLPBA", "BIOENTITY"),
        DatasetSpec("EBM-PICO", "pico", _TSV, partial(read_tagged_tsv, allowed_tags=PICO_TAGS),
                    labels=("PAR", "INT", "OUT"), optional_splits=frozenset({"train"})),
        DatasetSpec("ChemProt", "relation", _TSV,
                    partial(read_relation_tsv, labels=frozenset(_CHEMPROT), header=False), labels=_CHEMPROT,
                    negative="false", entity_masks=("CHEMICAL", "GENE")),
        DatasetSpec("DDI", "relation", _TSV,
                    partial(read_relation_tsv, labels=frozenset(_DDI), header=False), labels=_DDI,
                    negative="DDI-false", entity_masks=("DRUG", "DRUG")),
        DatasetSpec("GAD", "relation", _TSV,
                    partial(read_relation_tsv, labels=frozenset({"0", "1"}), header=True), labels=("0", "1"),
                    negative="0", entity_masks=("GENE", "DISEASE")),
        DatasetSpec("BIOSSES", "similarity", _TSV, read_biosses),
        DatasetSpec("HoC", "doc_classification", _TSV, read_hoc, labels=tuple(str(k) for k in range(10))),
        DatasetSpec("PubMedQA", "qa", {s: f"{s}_set.json" for s in SPLITS},
                    partial(read_pubmedqa, labels=frozenset({"yes", "no", "maybe"})),
                    labels=("yes", "no", "maybe")),
        DatasetSpec("BioASQ", "qa", _TSV, partial(read_bioasq, labels=frozenset({"yes", "no"})),
                    labels=("yes", "no")),
    ]
}


# The extra NER training corpora (../shared/corpora/MANIFEST.md: leakage-checked against every test split).
# The four BioNLP shared-task corpora annotate proteins as "gene or gene product" with GENIA-style
# boundaries, a different guideline from BC2GM's; LINNAEUS annotates species in full-text articles.
CORPORA: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        _corpus("BioNLP09", "GENE", guideline="BioNLP"),
        _corpus("BioNLP11EPI", "GENE", guideline="BioNLP"),
        _corpus("BioNLP13GE", "GENE", guideline="BioNLP"),
        _corpus("Ex-PTM", "GENE", guideline="BioNLP"),
        _corpus("linnaeus", "SPECIES"),
    ]
}


# Sets built from the BLURB ones (not BLURB tasks themselves: not in the BLURB score or data stats).
DERIVED: dict[str, DatasetSpec] = {
    "BC5CDR": MergedNerSpec("BC5CDR", "ner", _TSV, DATASETS["BC5-chem"].read, sources=("BC5-chem", "BC5-disease")),
    # one model for every type of the five BLURB NER sets. JNLPBA is staged with its five GENIA types
    # (protein, DNA, RNA, cell line, cell type) collapsed to untyped B/I/O (MANIFEST.md), so BIOENTITY
    # is the one type it can teach; the GENIA split cannot be recovered from these files
    "NER-multitype": MultiTypeNerSpec("NER-multitype", "multi_ner", _TSV, DATASETS["BC5-chem"].read,
                                      sources=("BC5CDR", "NCBI-disease", "BC2GM", "JNLPBA")),
    # the same plus every extra corpus: ten corpora, genes to two guidelines (a head each), species
    "NER-multicorpus": MultiTypeNerSpec("NER-multicorpus", "multi_ner", _TSV, DATASETS["BC5-chem"].read,
                                        sources=("BC5CDR", "NCBI-disease", "BC2GM", "JNLPBA", *CORPORA),
                                        guidelines=True),
}


def get_dataset(name: str) -> DatasetSpec:
    """Look a dataset up by its folder name (or a derived set's name); unknown names list the known ones."""
    spec = DATASETS.get(name) or CORPORA.get(name) or DERIVED.get(name)
    if spec is None:
        known = [*DATASETS, *CORPORA, *DERIVED]
        same = [k for k in known if k.lower() == name.lower()]
        hint = f" (did you mean {same[0]!r}? names are case-sensitive)" if same else ""
        raise DataNotFoundError(f"unknown dataset {name!r}{hint}; known: {', '.join(known)}")
    return spec
