"""Label colours of the displaCy page, rendered by spaCy's real displaCy."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from spacy import displacy

from biomedserve.serving.display import label_colors, render_entities

BIOMEDICAL = ["CHEMICAL", "DISEASE", "GENE", "BIOENTITY", "PROTEIN", "DNA", "RNA", "CELL_LINE", "CELL_TYPE",
              "SPECIES"]
UNKNOWN = ["mutation", "Zz_NEVER_SEEN"]


def test_every_label_is_rendered_in_a_colour_of_its_own():
    labels = BIOMEDICAL + UNKNOWN
    text = " ".join(labels)
    entities, start = [], 0
    for label in labels:
        entities.append((start, start + len(label), label))
        start += len(label) + 1
    page = render_entities(text, entities, "all labels", labels)
    drawn = dict(
        (label, colour)
        for colour, label in re.findall(r'<mark class="entity" style="background: ([^;]+);.*?<span[^>]*>([^<]+)</span>',
                                        page))
    assert set(drawn) == set(labels)
    default = displacy.EntityRenderer().default_color
    assert all(colour != default and re.fullmatch(r"#[0-9a-f]{6}", colour) for colour in drawn.values()), drawn
    assert len(set(drawn.values())) == len(labels)  # no two labels share a colour


LEGEND_ITEM = re.compile(r'<span class="legend-label" style="background: ([^;]+);[^>]*>([^<]+)</span>')


def test_the_legend_lists_every_type_of_the_model_in_its_colour():
    text = "Naloxone reversed hypotension."
    model_types = ["CHEMICAL", "DISEASE", "GENE", "BIOENTITY", "Zz_NEW_TYPE"]
    page = render_entities(text, [(0, 8, "CHEMICAL"), (18, 29, "SPECIES")], "two entities", model_types)
    legend = page[page.index('<div class="legend"'):]
    assert LEGEND_ITEM.findall(legend) == [(label_colors([label])[label], label) for label in [*model_types, "SPECIES"]]
    assert page.count("<mark") == 2 and "<mark" not in legend  # the legend marks no text
    assert render_entities("<b>", [], "none", ["A&B"]).count("A&amp;B") == 1  # labels are escaped


def test_colours_are_the_same_in_every_process():
    labels = BIOMEDICAL + UNKNOWN
    script = f"from biomedserve.serving.display import label_colors; print(label_colors({labels!r}))"
    runs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip() for seed in ("1", "2")}
    assert runs == {str(label_colors(labels))}


def test_species_has_a_fixed_colour_of_its_own():
    from biomedserve.serving.display import KNOWN_COLORS, label_color

    assert label_color("SPECIES") == KNOWN_COLORS["SPECIES"]
    assert list(KNOWN_COLORS.values()).count(KNOWN_COLORS["SPECIES"]) == 1
