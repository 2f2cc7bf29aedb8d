import random

import pytest
from transformers import AutoTokenizer

from biomedserve.modeling.encoders import default_encoder_path
from biomedserve.text.encoding import best_window_per_word, make_windows, word_pieces


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(default_encoder_path()))


def test_first_piece_of_each_word(tokenizer):
    words = ["Selegiline", "-", "induced", "hypotension", "α", "\u200b"]
    pieces = word_pieces(tokenizer, words)
    assert len(pieces) == len(words)
    assert all(pieces)  # a word the tokenizer drops still gets a piece ([UNK])
    assert tokenizer.convert_ids_to_tokens(pieces[0])[0] == "se"
    assert "".join(t.lstrip("#") for t in tokenizer.convert_ids_to_tokens(pieces[0])) == "selegiline"
    assert pieces[5] == [tokenizer.unk_token_id]
    [window] = make_windows(0, pieces, 101, 102, 64)
    for position, piece in zip(window.first_piece, pieces):
        assert window.input_ids[position] == piece[0]


def test_windows_cover_every_word_within_budget():
    rng = random.Random(1)
    for _ in range(200):
        pieces = [[7] * rng.randint(1, 9) for _ in range(rng.randint(1, 80))]
        max_length = rng.randint(8, 40)
        windows = make_windows(0, pieces, 1, 2, max_length)
        assert all(len(w.input_ids) <= max_length for w in windows)
        assert windows[0].start == 0 and windows[-1].end == len(pieces)
        for a, b in zip(windows, windows[1:]):
            assert b.start > a.start and b.start <= a.end  # progress, no gap
        chosen = best_window_per_word(windows, len(pieces))
        assert all(w >= 0 for w, _ in chosen)
        for word, (w, offset) in enumerate(chosen):
            assert windows[w].start + offset == word


def test_middle_words_take_the_window_with_most_context():
    pieces = [[5]] * 30
    windows = make_windows(0, pieces, 1, 2, 12)  # 10 words per window, stride 5
    chosen = best_window_per_word(windows, 30)
    for word, (w, _) in enumerate(chosen):
        window = windows[w]
        margin = min(word - window.start, window.end - 1 - word)
        others = [min(word - x.start, x.end - 1 - word) for x in windows if x.start <= word < x.end]
        assert margin == max(others)
