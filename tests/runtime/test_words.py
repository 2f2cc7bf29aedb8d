from biomedserve.runtime.words import split_words


def _texts(text):
    return [w.text for w in split_words(text)]


def test_offsets_index_the_original_text():
    text = "  Selegiline-induced\thypotension (5-HT2A) α-tocopherol, Na+/K+-ATPase; 17β-estradiol…  "
    for word in split_words(text):
        assert text[word.start:word.end] == word.text


def test_splits_like_the_blurb_corpora():
    assert _texts("Selegiline-induced") == ["Selegiline", "-", "induced"]
    assert _texts("2,3-dimethyl") == ["2", ",", "3", "-", "dimethyl"]
    assert _texts("Na+") == ["Na", "+"]
    assert _texts("patient's") == ["patient", "'", "s"]
    assert _texts("FK506 17beta") == ["FK506", "17beta"]


def test_greek_and_unicode_letters_stay_inside_words():
    assert _texts("TNF-α and IFNγ, µg") == ["TNF", "-", "α", "and", "IFNγ", ",", "µg"]


def test_empty_and_whitespace_give_no_words():
    assert split_words("") == []
    assert split_words(" \n\t ") == []
