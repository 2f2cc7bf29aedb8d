"""``all_stats()`` on the real BLURB data must reproduce the counts in MANIFEST.md.

The expected numbers below were typed by hand from ``shared/blurb/MANIFEST.md`` (not computed
from the data), so they are an independent check of the readers, the registry and the counting.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from biomedserve.data.location import resolve_data_dir
from biomedserve.data.stats import all_stats
from biomedserve.errors import DataNotFoundError

REPO_ROOT = Path(__file__).resolve().parents[2]


def _ner(sentences, tokens, mentions, documents=None):
    """Three per-split tuples -> {split: counts} in the shape stats.py reports."""
    out = {}
    for i, split in enumerate(("train", "dev", "test")):
        row = {"sentences": sentences[i], "tokens": tokens[i], "mentions": mentions[i]}
        if documents is not None:
            row["documents"] = documents[i]
        out[split] = row
    return out


def _labelled(by_split: dict[str, dict[str, int]]):
    return {split: {"instances": sum(labels.values()), "labels": labels} for split, labels in by_split.items()}


def _hoc(instances: int, sentences: int, no_label: int, positives: list[int]):
    return {
        "instances": instances,
        "sentences": sentences,
        "no_label": no_label,
        "labels": {str(k): n for k, n in enumerate(positives)},
    }


# --- MANIFEST.md, typed by hand ------------------------------------------------------------------

EXPECTED: dict[str, dict[str, dict]] = {
    # NER: sentences / tokens / mentions (train / dev / test)
    "BC5-chem": _ner((4560, 4581, 4797), (118170, 117453, 124750), (5203, 5347, 5385)),
    "BC5-disease": _ner((4560, 4581, 4797), (118170, 117453, 124750), (4182, 4246, 4424)),
    "NCBI-disease": _ner((5424, 923, 940), (135701, 23969, 24497), (5134, 787, 960)),
    "BC2GM": _ner((12574, 2519, 5038), (355405, 71042, 143465), (15197, 3061, 6325)),
    "JNLPBA": _ner(
        (16807, 1739, 3856), (445090, 47461, 101039), (46750, 4551, 8662), documents=(1800, 200, 404)
    ),
    # PICO: dev + test only
    "EBM-PICO": {
        "dev": {
            "documents": 960,
            "sentences": 10386,
            "tokens": 262268,
            "non_o_tokens": 87308,
            "labels": {"O": 174960, "I-PAR": 30280, "I-INT": 25061, "I-OUT": 31967},
        },
        "test": {
            "documents": 191,
            "sentences": 2076,
            "tokens": 51784,
            "non_o_tokens": 16364,
            "labels": {"O": 35420, "I-PAR": 4711, "I-INT": 3563, "I-OUT": 8090},
        },
    },
    # Relation extraction
    "ChemProt": _labelled({
        "train": {"CPR:3": 756, "CPR:4": 2227, "CPR:5": 173, "CPR:6": 229, "CPR:9": 727, "false": 13923},
        "dev": {"CPR:3": 546, "CPR:4": 1091, "CPR:5": 115, "CPR:6": 199, "CPR:9": 457, "false": 8860},
        "test": {"CPR:3": 663, "CPR:4": 1655, "CPR:5": 178, "CPR:6": 292, "CPR:9": 642, "false": 12315},
    }),
    "DDI": _labelled({
        "train": {"DDI-false": 21745, "DDI-mechanism": 1163, "DDI-effect": 1486, "DDI-advise": 725, "DDI-int": 177},
        "dev": {"DDI-false": 2027, "DDI-mechanism": 156, "DDI-effect": 201, "DDI-advise": 101, "DDI-int": 11},
        "test": {"DDI-false": 4737, "DDI-mechanism": 302, "DDI-effect": 360, "DDI-advise": 221, "DDI-int": 96},
    }),
    "GAD": _labelled({
        "train": {"1": 2227, "0": 2034},
        "dev": {"1": 293, "0": 242},
        "test": {"1": 281, "0": 253},
    }),
    # Sentence similarity: instances, mean score (2 decimals in the manifest), min, max
    "BIOSSES": {
        "train": {"instances": 64, "score_mean": 2.40, "score_min": 0.0, "score_max": 4.0},
        "dev": {"instances": 16, "score_mean": 1.71, "score_min": 0.0, "score_max": 3.2},
        "test": {"instances": 20, "score_mean": 1.94, "score_min": 0.0, "score_max": 3.6},
    },
    # Document classification (abstract level)
    "HoC": {
        "train": _hoc(1295, 12119, 197, [201, 86, 68, 87, 169, 222, 101, 309, 315, 180]),
        "dev": _hoc(186, 1798, 22, [28, 8, 18, 4, 18, 46, 19, 41, 42, 20]),
        "test": _hoc(371, 3547, 53, [62, 14, 19, 24, 53, 65, 23, 79, 105, 40]),
    },
    # Question answering
    "PubMedQA": _labelled({
        "train": {"yes": 249, "no": 152, "maybe": 49},
        "dev": {"yes": 27, "no": 17, "maybe": 6},
        "test": {"yes": 276, "no": 169, "maybe": 55},
    }),
    "BioASQ": _labelled({
        "train": {"yes": 552, "no": 118},
        "dev": {"yes": 62, "no": 13},
        "test": {"yes": 94, "no": 46},
    }),
}

# Totals stated separately in the manifest's summary table, as a cross-check of the typing above.
SUMMARY_INSTANCES = {
    "ChemProt": (18035, 11268, 15745),
    "DDI": (25296, 2496, 5716),
    "GAD": (4261, 535, 534),
    "BIOSSES": (64, 16, 20),
    "HoC": (1295, 186, 371),
    "PubMedQA": (450, 50, 500),
    "BioASQ": (670, 75, 140),
}

CASES = [(name, split) for name, splits in EXPECTED.items() for split in splits]

# ../shared/corpora/MANIFEST.md: (sentences, mentions) of the extra NER training corpora per split
CORPORA_EXPECTED = {
    "BioNLP09": {"train": (7362, 9215), "dev": (1431, 2048), "test": (2428, 3561)},
    "BioNLP11EPI": {"train": (5670, 7550), "dev": (1950, 2494), "test": (4105, 5701)},
    "BioNLP13GE": {"train": (2407, 3561), "dev": (2685, 4126), "test": (3326, 4346)},
    "Ex-PTM": {"train": (1374, 1786), "dev": (434, 597), "test": (1826, 2304)},
    "linnaeus": {"train": (11181, 2106), "dev": (3821, 706), "test": (6746, 1428)},
}


@pytest.fixture(scope="module")
def stats():
    """``all_stats()`` once per module, resolved the default way from the repository root."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO_ROOT)
        try:
            resolve_data_dir()
        except DataNotFoundError as exc:  # pragma: no cover - only without the staged data
            pytest.skip(f"BLURB data not available: {exc}")
        return all_stats()


def test_expected_table_is_self_consistent():
    """The hand-typed per-label counts add up to the manifest's summary totals."""
    assert len(EXPECTED) == 13  # BLURB: 5 NER + PICO + 3 RE + BIOSSES + HoC + 2 QA
    for name, totals in SUMMARY_INSTANCES.items():
        assert tuple(EXPECTED[name][s]["instances"] for s in ("train", "dev", "test")) == totals, name
    for split, row in EXPECTED["EBM-PICO"].items():
        assert sum(row["labels"].values()) == row["tokens"], split
        assert row["tokens"] - row["labels"]["O"] == row["non_o_tokens"], split


def test_datasets_and_splits(stats):
    assert set(stats) - set(CORPORA_EXPECTED) == set(EXPECTED)
    for name, splits in EXPECTED.items():
        assert set(stats[name]) == set(splits), name
    assert set(stats["EBM-PICO"]) == {"dev", "test"}  # train is not staged


@pytest.mark.parametrize(("name", "split"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_split_counts_match_manifest(stats, name, split):
    got = stats[name][split]
    want = EXPECTED[name][split]
    if name == "BIOSSES":
        assert set(got) == set(want)
        assert got["instances"] == want["instances"]
        assert got["score_mean"] == pytest.approx(want["score_mean"], abs=0.005)
        assert got["score_min"] == pytest.approx(want["score_min"])
        assert got["score_max"] == pytest.approx(want["score_max"])
    else:
        assert got == want


def test_names_subset(stats):
    """``names`` restricts the datasets; the counts agree with the full run."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO_ROOT)
        subset = all_stats(names=["BIOSSES", "BioASQ"])
    assert subset == {"BIOSSES": stats["BIOSSES"], "BioASQ": stats["BioASQ"]}


def test_joint_bc5cdr_merges_both_layers_with_types():
    from biomedserve.data.registry import DATASETS, get_dataset
    from biomedserve.tasks import get_task

    spec = get_dataset("BC5CDR")
    assert "BC5CDR" not in DATASETS  # a derived set: not a BLURB task, not in data stats
    test = spec.load("test")
    begins = [t for s in test for t in s.tags if t.startswith("B-")]
    assert begins.count("B-CHEMICAL") == 5385 and begins.count("B-DISEASE") == 4424
    assert get_task("ner").labels(spec) == ["O", "B-CHEMICAL", "I-CHEMICAL", "B-DISEASE", "I-DISEASE"]
    assert len(spec.source_paths("test")) == 2


def test_the_extra_corpora_are_listed_with_the_manifests_counts(stats):
    """Every extra corpus staged beside BLURB is in the stats, its counts those of its MANIFEST.md."""
    staged = [name for name in CORPORA_EXPECTED if name in stats]
    if not staged:  # pragma: no cover - only without ../shared/corpora
        pytest.skip("the extra NER corpora are not staged here")
    assert staged == list(CORPORA_EXPECTED)
    for name in staged:
        got = {split: (row["sentences"], row["mentions"]) for split, row in stats[name].items()}
        assert got == CORPORA_EXPECTED[name], name
