"""The runtime's tokenizers-only tokenizer encodes exactly as transformers' fast tokenizer does,
for both calls ``biomedserve.text.encoding`` makes: so training features and runtime inputs agree."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from biomedserve.runtime.tokenizer import RuntimeTokenizer
from biomedserve.text.encoding import encode_pair, word_pieces_batch
from biomedserve.text.words import split_words

TEXTS = ["Naloxone reversed the effect of clonidine (5-HT2A; α-methyldopa) at 0.5 mg/kg.",
         "Méthotrexate and Me\u0301thotrexate", "Na+/K+-ATPase inhibition by ouabain…", "", "\u200b \x07 ok",
         " ".join(["a long context about lithium and ibuprofen"] * 30)]


@pytest.fixture(scope="module")
def both(tiny_model):
    return AutoTokenizer.from_pretrained(str(tiny_model)), RuntimeTokenizer(tiny_model, 64)


def test_word_pieces_are_identical(both):
    hf, runtime = both
    sequences = [[w.text for w in split_words(t)] for t in TEXTS]
    assert word_pieces_batch(runtime, sequences) == word_pieces_batch(hf, sequences)
    assert (runtime.cls_token_id, runtime.sep_token_id, runtime.pad_token_id, runtime.unk_token_id) == \
           (hf.cls_token_id, hf.sep_token_id, hf.pad_token_id, hf.unk_token_id)


def test_a_batch_builds_its_ids_once(both):
    """Rows are read one by one from the batch's ids: rebuilding them per row made a batch quadratic in its size."""
    _, runtime = both
    encoding = runtime([["a", "b"], ["c"]], is_split_into_words=True, add_special_tokens=False, verbose=False)
    assert encoding["input_ids"] is encoding["input_ids"]
    assert len(encoding["input_ids"]) == 2


@pytest.mark.parametrize("single_segment", [False, True])
def test_texts_and_pairs_are_identical_and_cut_alike(both, single_segment):
    hf, runtime = both
    for a in TEXTS:
        for b in (None, *TEXTS):
            assert encode_pair(runtime, a, b, 64, single_segment) == encode_pair(hf, a, b, 64, single_segment)


def test_a_damaged_tokenizer_is_a_model_dir_error(tiny_model, tmp_path):
    import shutil

    from biomedserve.errors import ModelDirError

    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_model / name, tmp_path / name)
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelDirError, match="tokenizer could not be loaded"):
        RuntimeTokenizer(tmp_path, 64)
