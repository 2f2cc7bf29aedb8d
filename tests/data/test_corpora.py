"""The extra NER training corpora: where they are found, their typed tags, and the ten-corpus set."""

from __future__ import annotations

import pytest

from biomedserve.data.location import CORPORA_ENV_VAR, resolve_corpora_dir
from biomedserve.data.registry import CORPORA, get_dataset
from biomedserve.data.tagged import read_typed_tsv
from biomedserve.errors import DataFormatError, DataNotFoundError


def test_typed_tags_are_read_as_the_blurb_sets_untyped_ones(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("Escherichia\tB-SPECIES\ncoli\tI-SPECIES\ngrows\tO\n\nmice\tB-SPECIES\n", encoding="utf-8")
    sentences = list(read_typed_tsv(path, "SPECIES"))
    assert [s.tags for s in sentences] == [["B", "I", "O"], ["B"]]
    path.write_text("p53\tB-GENE\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"train.tsv:1.*unknown tag 'B-GENE'"):
        list(read_typed_tsv(path, "SPECIES"))


def test_the_corpora_folder_env_then_beside_the_blurb_folder(tmp_path, monkeypatch):
    blurb, corpora = tmp_path / "blurb", tmp_path / "corpora"
    blurb.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CORPORA_ENV_VAR, raising=False)
    with pytest.raises(DataNotFoundError, match="no extra NER corpora directory found"):
        resolve_corpora_dir(blurb)
    corpora.mkdir()
    assert resolve_corpora_dir(blurb) == corpora  # beside the --data-dir BLURB folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv(CORPORA_ENV_VAR, str(elsewhere))
    assert resolve_corpora_dir(blurb) == elsewhere
    monkeypatch.setenv(CORPORA_ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(DataNotFoundError, match=f"from \\${CORPORA_ENV_VAR}"):
        resolve_corpora_dir(blurb)


def test_the_ten_corpus_set_has_a_head_per_gene_guideline():
    spec = get_dataset("NER-multicorpus")
    assert spec.entity_types == ("CHEMICAL", "DISEASE", "GENE@BC2GM", "BIOENTITY", "GENE@BioNLP", "SPECIES")
    assert {s: t for s, t in spec.corpus_types.items() if s in CORPORA} == {
        "BioNLP09": ("GENE@BioNLP",), "BioNLP11EPI": ("GENE@BioNLP",), "BioNLP13GE": ("GENE@BioNLP",),
        "Ex-PTM": ("GENE@BioNLP",), "linnaeus": ("SPECIES",)}
    # the five-corpus set keeps one GENE head: guidelines split a type only where they are asked for
    assert get_dataset("NER-multitype").entity_types == ("CHEMICAL", "DISEASE", "GENE", "BIOENTITY")
    # BC5CDR (two BLURB sets) + NCBI + BC2GM + JNLPBA + five extra corpora: ten corpora
    assert len(spec.source_paths("train")) == 10


def test_each_corpus_is_also_a_dataset_of_its_own():
    assert get_dataset("linnaeus").entity_type == "SPECIES" and get_dataset("linnaeus").home == "corpora"
    records = get_dataset("Ex-PTM").load("dev")
    assert len(records) == 434 and {t for r in records for t in r.tags} == {"B", "I", "O"}
