"""The spaCy-recipe baseline: BLURB data converts to spaCy Docs and trains with `spacy train`."""

import spacy

from biomedserve.training.spacy_baseline import to_docbin, train_baseline


def test_docbin_keeps_tokens_and_typed_entities():
    docs = list(to_docbin("BC5CDR", "dev", limit=50).get_docs(spacy.blank("en").vocab))
    assert len(docs) == 50
    labels = {e.label_ for d in docs for e in d.ents}
    assert labels == {"CHEMICAL", "DISEASE"}
    first = docs[0]
    assert [t.text for t in first[:3]] == ["22", "-", "oxacalcitriol"]  # tokens as in the file


def test_baseline_trains_and_loads(tmp_path):
    best = train_baseline("BC5-chem", tmp_path / "baseline", limit=60,
                          overrides={"training.max_steps": 20, "training.eval_frequency": 10})
    nlp = spacy.load(best)
    assert "ner" in nlp.pipe_names
    assert nlp.get_pipe("ner").labels == ("CHEMICAL",)
