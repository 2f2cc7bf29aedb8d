import unicodedata

import pytest

from biomedserve.text.words import first_words, resplit, sentence_ranges, split_words, spread_tags


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


def test_resplit_cuts_tokens_into_the_runtime_words_and_remembers_their_owner():
    words, owner = resplit(["IL-2", "gene", "NF-kappaB", "(", " "])
    assert words == ["IL", "-", "2", "gene", "NF", "-", "kappaB", "(", " "]  # whitespace keeps its token
    assert owner == [0, 0, 0, 1, 2, 2, 2, 3, 4]
    assert first_words(owner) == [0, 3, 4, 7, 8]
    # raw text split by the runtime is already cut: resplit changes nothing
    text_words = [w.text for w in split_words("Selegiline-induced hypotension (5-HT2A)")]
    assert resplit(text_words) == (text_words, list(range(len(text_words))))


def test_a_tokens_tag_spreads_over_its_words():
    _, owner = resplit(["IL-2", "-induced", "T-cell", "+/-"])
    tags = spread_tags(["B-PROTEIN", "O", "I-PROTEIN", "O"], owner)
    assert tags == ["B-PROTEIN", "I-PROTEIN", "I-PROTEIN", "O", "O", "I-PROTEIN", "I-PROTEIN", "I-PROTEIN",
                    "O", "O", "O"]
    assert spread_tags(["I-PAR"], resplit(["anti-TNF"])[1]) == ["I-PAR"] * 3  # PICO's IO tags


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_combining_marks_stay_inside_their_word(form):
    # NFD spells é as e + U+0301: the mark joins the run it follows, so the word stays whole
    methotrexate, caffeine = unicodedata.normalize(form, "Méthotrexate"), unicodedata.normalize(form, "Caféine")
    text = f"low-dose {methotrexate} ({caffeine}-free)"
    words = split_words(text)
    assert [w.text for w in words] == ["low", "-", "dose", methotrexate, "(", caffeine, "-", "free", ")"]
    for word in words:
        assert text[word.start:word.end] == word.text
    assert (words[3].start, words[3].end) == (9, 9 + len(methotrexate))
    # corpus tokens are cut by the same rule (training and scoring)
    assert resplit([methotrexate, caffeine + "-free"])[0] == [methotrexate, caffeine, "-", "free"]


def test_a_mark_after_a_symbol_stays_with_the_symbol():
    assert _texts("+\u0301 x") == ["+\u0301", "x"]
    assert _texts("\u0301a") == ["\u0301", "a"]  # nothing to follow: the mark stands alone


def _sentences(text):
    words = split_words(text)
    return [text[words[r.start].start:words[r.stop - 1].end] for r in sentence_ranges(text, words)]


def test_sentences_end_at_a_stop_before_a_capital_digit_or_bracket():
    text = ("Rats received 5 mg/kg i.v. cisplatin (Fig. 2). Smith et al. reported a 2.5-fold rise, e.g. in "
            "Na+/K+-ATPase. Levels rose (p < 0.05). [3H]Thymidine uptake fell! Was it 5-HT? It was.")
    assert _sentences(text) == [  # a false break (Fig. 2) costs context; a missed one merges two sentences
        "Rats received 5 mg/kg i.v. cisplatin (Fig.",
        "2).",
        "Smith et al. reported a 2.5-fold rise, e.g. in Na+/K+-ATPase.",
        "Levels rose (p < 0.05).",
        "[3H]Thymidine uptake fell!",
        "Was it 5-HT?",
        "It was.",
    ]


def test_a_blank_line_ends_a_sentence_and_ranges_cover_every_word_once():
    text = "Cisplatin nephrotoxicity\n\nhaloperidol was given\nto rats.  "
    words = split_words(text)
    spans = sentence_ranges(text, words)
    assert _sentences(text) == ["Cisplatin nephrotoxicity", "haloperidol was given\nto rats."]
    assert [i for r in spans for i in r] == list(range(len(words)))
    assert sentence_ranges("", []) == [] and sentence_ranges("  ", []) == []
