"""Writers on hand-made records: every format parses back and its offsets index its text exactly."""

import io
import json

import bioc
import pytest
from bioc import biocjson, biocxml

from biomedserve.annotate.annotator import ModelInfo, build_record
from biomedserve.annotate.writers import FormatError, normalise_format, open_writer, pubtator_type, record_line
from biomedserve.data.documents import Document

MODELS = [ModelInfo("chem", "fp32-0123456789ab", "ner", "fp32", "/m/chem"),
          ModelInfo("gene", "int8-ba9876543210", "ner", "int8", "/m/gene")]


def entity(doc: Document, needle: str, type_: str, model: str = "chem", nth: int = 0) -> dict:
    start = -1
    for _ in range(nth + 1):
        start = doc.text.index(needle, start + 1)
    return {"start": start, "end": start + len(needle), "text": needle, "type": type_, "score": 0.9876, "model": model}


def records() -> list[dict]:
    structured = Document.build("1001", "Naloxone and clonidine in rats.", [
        ("Clonidine lowers blood pressure.", "BACKGROUND", "BACKGROUND"),
        ("Naloxone reversed it; BRCA1 unaffected.", "RESULTS", "RESULTS")], {"completed": "2020-01-05"})
    unicode_doc = Document.build("1002", "Effets du β-carotène sur Ca2+ — «étude»", [("L’acide 日本語 aspirine.", None, None)])
    untitled = Document.build("t1", "", [("Tabs\tand\nnew lines: naloxone\r\nand clonidine.", None, None)], text_type="text")
    empty = Document.build("1003", "Title only.", [])
    nothing = Document.build("1004", "", [])
    out = [
        build_record(structured, [entity(structured, "Naloxone", "CHEMICAL"), entity(structured, "clonidine", "CHEMICAL"),
                                  entity(structured, "Clonidine", "CHEMICAL"), entity(structured, "BRCA1", "GENE", "gene"),
                                  entity(structured, "Naloxone", "CHEMICAL", nth=1)],
                     [{"model": "hoc", "labels": ["3"], "probabilities": {"3": 0.7}}], MODELS),
        build_record(unicode_doc, [entity(unicode_doc, "β-carotène", "CHEMICAL"), entity(unicode_doc, "aspirine", "CHEMICAL")], [], MODELS),
        build_record(untitled, [entity(untitled, "naloxone", "CHEMICAL"), entity(untitled, "clonidine", "CHEMICAL")], [], MODELS),
        build_record(empty, [], [], MODELS),
        build_record(nothing, [], [], MODELS),
    ]
    return out


def render(fmt: str) -> bytes:
    handle = io.BytesIO()
    writer = open_writer(fmt, handle, {"models": [m.to_dict() for m in MODELS]})
    for record in records():
        writer.write(record, record_line(record))
    writer.close()
    return handle.getvalue()


def test_jsonl_is_one_canonical_line_per_record():
    lines = render("jsonl").decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records()
    for record in map(json.loads, lines):
        assert record["models"][1] == {"name": "gene", "version": "int8-ba9876543210"}
        for e in record["entities"]:
            assert record["text"][e["start"]:e["end"]] == e["text"]
    assert "β-carotène" in lines[1]  # UTF-8, not \u escapes


def parse_pubtator(text: str) -> list[dict]:
    docs = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        pmid, _, title = lines[0].partition("|t|")
        assert lines[1].startswith(f"{pmid}|a|")
        abstract = lines[1][len(pmid) + 3:]
        anns = [line.split("\t") for line in lines[2:]]
        docs.append({"id": pmid, "title": title, "abstract": abstract, "annotations": anns})
    return docs


def test_pubtator_lines_and_offsets():
    text = render("pubtator").decode("utf-8")
    assert text.startswith("1001|t|Naloxone and clonidine in rats.\n1001|a|Clonidine lowers blood pressure. Naloxone")
    assert text.endswith("1004|t|\n1004|a|\n\n")
    docs = parse_pubtator(text)
    assert [d["id"] for d in docs] == ["1001", "1002", "t1", "1003", "1004"]
    for doc, record in zip(docs, records()):
        full = doc["title"] + (" " + doc["abstract"] if doc["abstract"] else "")
        assert len(full) == len(record["text"])
        assert len(doc["annotations"]) == len(record["entities"])
        for (pmid, start, end, mention, type_), e in zip(doc["annotations"], record["entities"]):
            assert full[int(start):int(end)] == mention and type_ == pubtator_type(e["type"]) and pmid == doc["id"]
    untitled = docs[2]  # no title: the text is the t line, line breaks and tabs became spaces
    assert untitled["title"] == "Tabs and new lines: naloxone  and clonidine." and untitled["abstract"] == ""
    assert docs[3]["title"] == "Title only." and docs[3]["abstract"] == ""


def check_bioc(collection, expected_models: str):
    assert collection.source == "biomedserve annotate" and collection.date == ""
    assert collection.infons["models"] == expected_models
    assert [d.id for d in collection.documents] == ["1001", "1002", "t1", "1003", "1004"]
    for document, record in zip(collection.documents, records()):
        assert [p.offset for p in document.passages] == [p["offset"] for p in record["passages"]]
        anns = []
        for passage in document.passages:
            assert record["text"][passage.offset:passage.offset + len(passage.text)] == passage.text
            for ann in passage.annotations:
                [location] = ann.locations
                assert record["text"][location.offset:location.end] == ann.text
                assert passage.text[location.offset - passage.offset:location.end - passage.offset] == ann.text
                anns.append((location.offset, ann.infons["type"], ann.infons["model"]))
        assert sorted(anns) == sorted((e["start"], pubtator_type(e["type"]), e["model"]) for e in record["entities"])
    first = collection.documents[0]
    assert [p.infons.get("section") for p in first.passages] == [None, "BACKGROUND", "RESULTS"]
    assert first.infons == {"date_completed": "2020-01-05", "hoc:labels": "3"}


def test_bioc_xml_parses_back_with_offsets():
    data = render("bioc")
    collection = biocxml.loads(data.decode("utf-8"))
    check_bioc(collection, "chem fp32-0123456789ab; gene int8-ba9876543210")
    bioc.validate(collection)  # the bioc library's own check: raises if an annotation's text is not at its offset


def test_bioc_xml_is_read_by_the_standard_library():
    """xml.etree (expat) knows "UTF-8", not the bioc library's default declaration "utf8"."""
    import xml.etree.ElementTree as ET

    data = render("bioc")
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'")
    collection = ET.fromstring(data)
    texts = [" ".join(p.findtext("text") or "" for p in d.iter("passage")) for d in collection.iter("document")]
    assert texts[1] == "Effets du β-carotène sur Ca2+ — «étude» L’acide 日本語 aspirine."


def test_bioc_json_parses_back_with_offsets():
    collection = biocjson.loads(render("bioc-json").decode("utf-8"))
    check_bioc(collection, "chem fp32-0123456789ab; gene int8-ba9876543210")


def overlapping_record() -> dict:
    """Entities of several types that overlap: a gene inside a disease name, one span with two types."""
    doc = Document.build("2001", "BRCA1-associated breast cancer and tamoxifen.",
                         [("Cisplatin toxicity; BIOENTITY-like CD4 cells.", None, None)])
    found = [entity(doc, "BRCA1-associated breast cancer", "DISEASE", "multi"), entity(doc, "BRCA1", "GENE", "multi"),
             entity(doc, "breast cancer", "DISEASE", "multi"), entity(doc, "tamoxifen", "CHEMICAL", "multi"),
             entity(doc, "Cisplatin", "CHEMICAL", "multi"), entity(doc, "Cisplatin", "GENE", "multi"),
             entity(doc, "CD4 cells", "BIOENTITY", "multi")]
    return build_record(doc, found, [], MODELS)


def render_one(fmt: str, record: dict) -> str:
    handle = io.BytesIO()
    writer = open_writer(fmt, handle, {"models": [m.to_dict() for m in MODELS]})
    writer.write(record, record_line(record))
    writer.close()
    return handle.getvalue().decode("utf-8")


EXPECTED_TYPES = {"DISEASE": "Disease", "GENE": "Gene", "CHEMICAL": "Chemical", "BIOENTITY": "BIOENTITY"}


def test_pubtator_writes_every_overlapping_entity_with_pubtators_type_names():
    record = overlapping_record()
    [doc] = parse_pubtator(render_one("pubtator", record))
    full = doc["title"] + " " + doc["abstract"]
    written = [(int(start), int(end), mention, type_) for _, start, end, mention, type_ in doc["annotations"]]
    assert written == [(e["start"], e["end"], e["text"], EXPECTED_TYPES[e["type"]]) for e in record["entities"]]
    assert all(full[start:end] == mention for start, end, mention, _ in written)
    assert "\t0\t5\tBRCA1\tGene" in render_one("pubtator", record)


@pytest.mark.parametrize("fmt", ["bioc", "bioc-json"])
def test_bioc_writes_every_overlapping_entity_with_pubtators_type_names(fmt):
    record = overlapping_record()
    text = render_one(fmt, record)
    [document] = (biocxml.loads(text) if fmt == "bioc" else biocjson.loads(text)).documents
    written = sorted((a.locations[0].offset, a.locations[0].end, a.text, a.infons["type"])
                     for p in document.passages for a in p.annotations)
    assert written == sorted((e["start"], e["end"], e["text"], EXPECTED_TYPES[e["type"]]) for e in record["entities"])


def test_jsonl_keeps_the_models_labels():
    record = overlapping_record()
    assert json.loads(render_one("jsonl", record))["entities"] == record["entities"]


def test_output_is_deterministic():
    for fmt in ("jsonl", "pubtator", "bioc", "bioc-json"):
        assert render(fmt) == render(fmt)


def test_format_from_name_or_suffix():
    assert normalise_format(None, "x.pubtator") == "pubtator"
    assert normalise_format(None, "x.xml.gz") == "bioc"
    assert normalise_format(None, "x.json") == "bioc-json"
    assert normalise_format(None, "x.out") == "jsonl"
    assert normalise_format("BioC-XML", "x.jsonl") == "bioc"
    with pytest.raises(FormatError, match="unknown format 'csv'"):
        normalise_format("csv", "x")
