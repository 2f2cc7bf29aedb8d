"""The displaCy page, rendered by a real headless Chromium from the running service."""

from __future__ import annotations

import re
import shutil
import subprocess
from urllib.parse import quote

import pytest

from biomedserve.data.registry import get_dataset

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _text_with_entities(client) -> tuple[str, list[dict]]:
    for sentence in get_dataset("BC5-chem").load("dev")[:300]:
        text = " ".join(sentence.tokens)
        entities = client.post("/ner", json={"texts": [text]}).json()["entities"][0]
        if entities:
            return text, entities
    pytest.fail("the tiny model found no entity in 300 dev sentences")


def test_visualize_html(client):
    text, entities = _text_with_entities(client)
    page = client.get("/visualize", params={"text": text})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count("<mark") == len(entities)
    assert client.post("/visualize", json={"text": text}).text == page.text
    assert client.get("/visualize").status_code == 422  # text is required


MARK = re.compile(r'<mark class="entity" style="background: ([^;]+);.*?<span[^>]*>([^<]+)</span>')
DISPLACY_GREY = "#ddd"


def test_every_label_of_the_served_model_has_its_own_colour(client, served_models):
    ner = next(m for m in client.get("/models").json() if m["name"] == served_models["ner"].name)
    types = {tag.partition("-")[2] for tag in ner["labels"] if tag != "O"}
    text, entities = _text_with_entities(client)
    marks = MARK.findall(client.get("/visualize", params={"text": text}).text)
    assert len(marks) == len(entities) and {label for _, label in marks} == types
    for colour, label in marks:
        assert colour != DISPLACY_GREY, f"{label} is drawn in displaCy's default grey"
    assert len({colour for colour, _ in marks}) == len(types)  # one colour per label


LEGEND_ITEM = re.compile(r'<span class="legend-label" style="background: ([^;]+);[^>]*>([^<]+)</span>')


def test_the_legend_shows_every_type_of_a_two_type_model(client, served_models):
    model = served_models["ner_two_types"].name
    page = client.get("/visualize", params={"text": "Naloxone reversed the effect.", "model": model}).text
    legend = LEGEND_ITEM.findall(page)
    assert [label for _, label in legend] == ["CHEMICAL", "DISEASE"]  # both, whatever the text holds
    assert all(colour != DISPLACY_GREY for colour, _ in legend) and len({c for c, _ in legend}) == 2


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_chromium_renders_the_highlighted_entities(service, client, tmp_path):
    text, entities = _text_with_entities(client)
    url = f"{service}/visualize?text={quote(text)}"
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=True).stdout
    assert dom.count("<mark") == len(entities)
    assert 'class="legend"' in dom and ">CHEMICAL</span></div>" in dom  # the legend is drawn, after the text
    for e in entities:
        assert e["text"] in dom
        assert e["label"] in dom
