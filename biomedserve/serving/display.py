"""displaCy's entity view of a text, with a colour for every label a model can emit, and a legend.

displaCy colours only its own (OntoNotes) labels; any other label, CHEMICAL included, is drawn in
the same default grey. Each label here gets a colour of its own, the same on every page and in
every process, so a label looks the same wherever it is shown. displaCy draws no legend, so a
multi-type model's page says which types it looked for even when the text holds only some of them.
"""

from __future__ import annotations

import colorsys
import hashlib
import html
from collections.abc import Iterable, Sequence

LEGEND_ITEM = ('<span class="legend-label" style="background: {color}; padding: 0.3em 0.6em; margin-right: 0.5em; '
               'border-radius: 0.35em; font-size: 0.8em; font-weight: bold; line-height: 2.5">{label}</span>')

# The entity types of the BLURB sets and of the usual biomedical taggers (JNLPBA's five types,
# EBM-PICO's three elements), from displaCy's own palette where it has enough distinct hues.
KNOWN_COLORS = {
    "CHEMICAL": "#7aecec",
    "DISEASE": "#ff9561",
    "GENE": "#aa9cfc",
    "PROTEIN": "#c887fb",
    "DNA": "#feca74",
    "RNA": "#ffeb80",
    "CELL_LINE": "#bfeeb7",
    "CELL_TYPE": "#9cc9cc",
    "BIOENTITY": "#f0d0ff",
    "SPECIES": "#9be77b",
    "PAR": "#bfe1d9",
    "INT": "#ff8197",
    "OUT": "#e4e7d2",
}


def label_color(label: str) -> str:
    """A label's colour: its fixed one if known, else a light colour whose hue is a hash of the label.

    The hash is BLAKE2 of the upper-cased label, not Python's ``hash`` (salted per process), so a
    new label gets the same colour on every start; lightness and saturation are fixed so every
    generated colour is a readable pastel, never displaCy's grey.
    """
    key = label.upper()
    if key in KNOWN_COLORS:
        return KNOWN_COLORS[key]
    hue = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=2).digest(), "big") / 2**16
    red, green, blue = colorsys.hls_to_rgb(hue, 0.8, 0.75)
    return "#" + "".join(f"{round(channel * 255):02x}" for channel in (red, green, blue))


def label_colors(labels: Iterable[str]) -> dict[str, str]:
    """displaCy's ``colors`` option for ``labels``."""
    return {label: label_color(label) for label in labels}


def legend(colors: dict[str, str]) -> str:
    """HTML naming every label in its colour, styled like displaCy's label tags but without ``<mark>``
    (a mark is an entity of the text)."""
    items = "".join(LEGEND_ITEM.format(color=color, label=html.escape(label)) for label, color in colors.items())
    return f'<div class="legend" style="margin-top: 1.5em">{items}</div>'


def render_entities(text: str, entities: Sequence[tuple[int, int, str]], title: str, labels: Iterable[str]) -> str:
    """A whole displaCy page of ``text`` with ``entities`` (start, end, label) marked, and a legend.

    ``labels`` are the model's entity types: every one is given its colour and listed in the legend
    whether or not the text holds one, and so is any label of ``entities`` outside them. The page is
    displaCy's own (its page and figure templates), with the legend below the text.
    """
    from spacy import displacy
    from spacy.displacy.render import DEFAULT_DIR, DEFAULT_LANG
    from spacy.displacy.templates import TPL_FIGURE, TPL_PAGE
    from spacy.util import minify_html

    doc = {"text": text, "ents": [{"start": s, "end": e, "label": label} for s, e, label in entities],
           "title": title}
    colors = label_colors([*labels, *(label for _, _, label in entities)])
    markup = displacy.render(doc, style="ent", manual=True, page=False, options={"colors": colors})
    page = TPL_PAGE.format(content=TPL_FIGURE.format(content=markup + legend(colors)), lang=DEFAULT_LANG,
                           dir=DEFAULT_DIR)
    return minify_html(page)
