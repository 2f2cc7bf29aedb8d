"""Typed results: the non-overlapping view a displaCy page draws of a multi-type model's entities."""

from biomedserve.runtime.results import Entities, Entity


def test_non_overlapping_keeps_the_best_scored_and_every_disjoint_entity():
    text = "BRCA1 breast cancer and aspirin"
    entities = Entities([Entity(0, 5, "BRCA1", "GENE", 0.97), Entity(0, 19, "BRCA1 breast cancer", "DISEASE", 0.90),
                         Entity(6, 19, "breast cancer", "DISEASE", 0.90), Entity(24, 31, "aspirin", "CHEMICAL", 0.5)])
    assert [e.text for e in entities] == [text[e.start:e.end] for e in entities]
    shown = entities.non_overlapping()
    # the gene wins its characters; of the two equal-score diseases only the one clear of it can stay
    assert [(e.label, e.text) for e in shown] == [("GENE", "BRCA1"), ("DISEASE", "breast cancer"),
                                                  ("CHEMICAL", "aspirin")]
    assert len(entities) == 4  # the list itself keeps every overlap


def test_equal_scores_go_to_the_longer_entity():
    entities = Entities([Entity(0, 6, "breast", "DISEASE", 0.8), Entity(0, 13, "breast cancer", "DISEASE", 0.8)])
    assert [e.text for e in entities.non_overlapping()] == ["breast cancer"]
