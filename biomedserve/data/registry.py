"""The BLURB datasets: one entry each, naming its task type, files, labels and reader.

Adding a dataset means adding an entry here; nothing else branches on dataset names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from biomedserve.data.location import resolve_data_dir
from biomedserve.data.pubmedqa import read_pubmedqa
from biomedserve.data.tables import read_bioasq, read_biosses, read_hoc, read_relation_tsv
from biomedserve.data.tagged import read_tagged_tsv
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
    class inventory of classification sets.
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

    def available_splits(self, data_dir: str | Path | None = None) -> list[str]:
        """Splits whose files are there (a required split that is missing still raises on load)."""
        root = resolve_data_dir(data_dir) / self.name
        return [s for s in self.files if s not in self.optional_splits or (root / self.files[s]).is_file()]

    def path(self, split: str, data_dir: str | Path | None = None) -> Path:
        """The file of ``split``, or a clear error naming the dataset, split and path."""
        if split not in self.files:
            raise DataNotFoundError(
                f"{self.name} has no {split!r} split here; available: {', '.join(self.files)}"
            )
        path = resolve_data_dir(data_dir) / self.name / self.files[split]
        if not path.is_file():
            hint = " (not staged here; MANIFEST.md says how to rebuild it)" if split in self.optional_splits else ""
            raise DataNotFoundError(f"{self.name} {split} split not found: looked for {path}{hint}")
        return path

    def load(self, split: str, data_dir: str | Path | None = None) -> list[Any]:
        """Read a whole split into typed records."""
        return list(self.read(self.path(split, data_dir)))


def _ner(name: str, entity_type: str) -> DatasetSpec:
    files = {split: f"{split}.tsv" for split in SPLITS}
    return DatasetSpec(name, "ner", files, partial(read_tagged_tsv, allowed_tags=BIO_TAGS),
                       entity_type=entity_type)


_CHEMPROT = ("CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9", "false")
_DDI = ("DDI-advise", "DDI-effect", "DDI-int", "DDI-mechanism", "DDI-false")
_TSV = {split: f"{split}.tsv" for split in SPLITS}

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        _ner("BC5-chem", "CHEMICAL"),
        _ner("BC5-disease", "DISEASE"),
        _ner("NCBI-disease", "DISEASE"),
        _ner("BC2GM", "GENE"),
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


def get_dataset(name: str) -> DatasetSpec:
    """Look a dataset up by its folder name; an unknown name lists the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DataNotFoundError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def file_sha256(path: str | Path) -> str:
    """Checksum recorded in model provenance, so a model names exactly the data it saw."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
