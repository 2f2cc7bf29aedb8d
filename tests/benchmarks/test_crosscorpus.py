"""The cross-corpus evaluation sets live with the benchmarks: they load, and nothing that trains can reach them."""

import pytest


def test_crosscorpus_sets_load_but_cannot_be_trained_on():
    from benchmarks.crosscorpus import CROSS_CORPUS, load_crosscorpus
    from biomedserve.data.registry import get_dataset
    from biomedserve.errors import DataNotFoundError, RecipeError
    from biomedserve.training.recipes import Recipe

    sentences = load_crosscorpus("BioNLP13PC-chem", "dev")
    assert len(sentences) == 857  # MANIFEST.md of the cross-corpus folder
    assert sum(tag == "B" for s in sentences for tag in s.tags) == 451
    for name in CROSS_CORPUS:
        with pytest.raises(DataNotFoundError):
            get_dataset(name)  # evaluation only: nothing that trains can look it up
    with pytest.raises(DataNotFoundError, match="no 'train' split"):
        CROSS_CORPUS["BioNLP13PC-ggp"].path("train")
    with pytest.raises(RecipeError, match="dataset: unknown dataset 'BioNLP13PC-chem'"):
        Recipe(dataset="BioNLP13PC-chem")  # no recipe can name one either
