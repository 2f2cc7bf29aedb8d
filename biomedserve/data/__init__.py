"""BLURB data layer: typed records, readers, the dataset registry and statistics."""

from biomedserve.data.location import resolve_data_dir
from biomedserve.data.records import DocumentInstance, PairInstance, TaggedSentence, TypedLayersSentence
from biomedserve.data.registry import DATASETS, DatasetSpec, get_dataset

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "DocumentInstance",
    "PairInstance",
    "TaggedSentence",
    "TypedLayersSentence",
    "get_dataset",
    "resolve_data_dir",
]
