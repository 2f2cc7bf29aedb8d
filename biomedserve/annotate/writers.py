"""Writers: annotated records to JSONL, PubTator, BioC XML and BioC JSON, one record at a time.

Every writer takes the same record (:func:`biomedserve.annotate.annotator.build_record`'s dict)
and streams to a binary handle, so the job renders the final file in constant memory whatever the
corpus size. Offsets are character (code point) offsets into the written text in every format:

* **jsonl** — the record itself, one compact JSON object per line (the canonical form: chunk files
  hold exactly these lines).
* **pubtator** — ``PMID|t|title``, ``PMID|a|abstract``, then ``PMID<TAB>start<TAB>end<TAB>text<TAB>type``
  lines and a blank line after each document; offsets count over ``title + " " + abstract``; types
  are PubTator's names (:data:`PUBTATOR_TYPES`), and entities may overlap (every model's, every type's). A
  document without a title (plain text, JSONL ``text``) is written as its ``t`` line with an empty
  ``a`` line, so readers that assume the title comes first still index it exactly. Tabs and line
  breaks inside texts become spaces (one for one: offsets do not move). Document classifications
  have no place in PubTator and are left out.
* **bioc** (XML) and **bioc-json** — a ``collection`` with one ``document`` per record, one
  ``passage`` per title / abstract section / text (its document-level offset, its section label),
  annotations inside their passage with ``type`` (PubTator's names, as PubTator's own BioC), ``score`` and
  ``model`` infons, overlapping ones included; written with the
  ``bioc`` library's encoders. The XML declares ``encoding='UTF-8'``, which every XML parser
  reads (the library's default name, ``utf8``, is refused by Python's ``xml.etree``).

No writer puts the date or a path into its output: a resumed run must be byte-identical to an
uninterrupted one, whenever and wherever it runs.
"""

from __future__ import annotations

import json
import re
from typing import IO, Any, Protocol

from biomedserve.errors import BiomedserveError

FORMATS = ("jsonl", "pubtator", "bioc", "bioc-json")
_ALIASES = {"bioc-xml": "bioc", "biocxml": "bioc", "biocjson": "bioc-json", "ndjson": "jsonl"}
_SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".pubtator": "pubtator", ".txt": "pubtator",
                   ".xml": "bioc", ".json": "bioc-json"}
_LINE_BREAKS = re.compile("[\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")

# A model's entity label → the type name PubTator3 writes (Chemical, Disease, Gene, Species, CellLine,
# Variant, ...), used by the PubTator and BioC writers. A label not here (BIOENTITY, PICO's PAR)
# has no PubTator counterpart and is written as the model gives it; JSONL keeps the model's labels.
PUBTATOR_TYPES = {"CHEMICAL": "Chemical", "DISEASE": "Disease", "GENE": "Gene"}


class FormatError(BiomedserveError):
    """An unknown output format."""


def normalise_format(name: str | None, out_name: str) -> str:
    """The format to write: the one named, else the one the output file's suffix implies, else jsonl."""
    if name:
        key = _ALIASES.get(name.lower(), name.lower())
        if key not in FORMATS:
            raise FormatError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}")
        return key
    lower = out_name.lower().removesuffix(".gz")
    for suffix, fmt in _SUFFIX_FORMATS.items():
        if lower.endswith(suffix):
            return fmt
    return "jsonl"


def record_line(record: dict[str, Any]) -> str:
    """The canonical serialisation of a record: compact JSON, UTF-8 text kept as is, key order fixed."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class Writer(Protocol):
    def write(self, record: dict[str, Any], line: str) -> None: ...

    def close(self) -> None: ...


class JsonlWriter:
    def __init__(self, handle: IO[bytes], info: dict[str, Any]):
        self.handle = handle

    def write(self, record: dict[str, Any], line: str) -> None:
        self.handle.write(line.encode("utf-8") + b"\n")

    def close(self) -> None:
        pass


def pubtator_type(label: str) -> str:
    """The type name PubTator and BioC files give a model's entity ``label`` (:data:`PUBTATOR_TYPES`)."""
    return PUBTATOR_TYPES.get(label, label)


def _one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" ", text)


def pubtator_parts(record: dict[str, Any]) -> tuple[str, str]:
    """The ``t`` and ``a`` lines' texts; ``t + " " + a`` (or ``t`` alone) is the record's text."""
    text = record["text"]
    passages = record["passages"]
    if len(passages) > 1 and passages[0]["type"] == "title":
        title_length = passages[0]["length"]
        return text[:title_length], text[title_length + 1:]
    return text, ""


class PubtatorWriter:
    def __init__(self, handle: IO[bytes], info: dict[str, Any]):
        self.handle = handle

    def write(self, record: dict[str, Any], line: str) -> None:
        doc_id = _one_line(record["id"]).replace("|", "/")
        title, abstract = pubtator_parts(record)
        lines = [f"{doc_id}|t|{_one_line(title)}", f"{doc_id}|a|{_one_line(abstract)}"]
        for entity in record["entities"]:
            mention, type_ = _one_line(entity["text"]), pubtator_type(entity["type"])
            lines.append(f"{doc_id}\t{entity['start']}\t{entity['end']}\t{mention}\t{type_}")
        self.handle.write(("\n".join(lines) + "\n\n").encode("utf-8"))

    def close(self) -> None:
        pass


def to_bioc_document(record: dict[str, Any]):
    """A ``bioc.BioCDocument``: passages with document-level offsets, annotations in their passage."""
    from bioc import BioCAnnotation, BioCDocument, BioCLocation, BioCPassage

    document = BioCDocument()
    document.id = record["id"]
    for key, value in record.get("dates", {}).items():
        document.infons[f"date_{key}"] = value
    for result in record.get("classifications", []):
        document.infons[f"{result['model']}:labels"] = ",".join(result["labels"])
    text = record["text"]
    passages = []
    for p in record["passages"]:
        passage = BioCPassage()
        passage.offset = p["offset"]
        passage.text = text[p["offset"]:p["offset"] + p["length"]]
        passage.infons["type"] = p["type"]
        if "label" in p:
            passage.infons["section"] = p["label"]
        if "category" in p:
            passage.infons["nlm_category"] = p["category"]
        passages.append((p["offset"], p["offset"] + p["length"], passage))
        document.add_passage(passage)
    for number, entity in enumerate(record["entities"], 1):
        annotation = BioCAnnotation()
        annotation.id = f"T{number}"
        annotation.infons = {"type": pubtator_type(entity["type"]), "score": f"{entity['score']:.4f}",
                             "model": entity["model"]}
        annotation.text = entity["text"]
        annotation.add_location(BioCLocation(entity["start"], entity["end"] - entity["start"]))
        owner = next((p for start, end, p in passages if start <= entity["start"] and entity["end"] <= end), None)
        (owner or document).add_annotation(annotation)
    return document


def _collection_infons(info: dict[str, Any]) -> dict[str, str]:
    models = info.get("models", [])
    return {"models": "; ".join(f"{m['name']} {m['version']}" for m in models)}


class BiocXmlWriter:
    def __init__(self, handle: IO[bytes], info: dict[str, Any]):
        from bioc import BioCCollection
        from bioc.biocxml import BioCXMLDocumentWriter

        # the bioc library declares encoding='utf8', a name expat (xml.etree, SAX) does not know:
        # those parsers reject the file at its first non-ASCII character. "UTF-8" is the IANA name.
        self.writer = BioCXMLDocumentWriter(handle, encoding="UTF-8")
        collection = BioCCollection()
        collection.source = "biomedserve annotate"
        collection.date = ""
        collection.key = "biomedserve.key"
        collection.infons = _collection_infons(info)
        self.writer.write_collection_info(collection)

    def write(self, record: dict[str, Any], line: str) -> None:
        self.writer.write_document(to_bioc_document(record))

    def close(self) -> None:
        self.writer.close()


class BiocJsonWriter:
    """A BioC JSON collection, streamed: header, one document per line, closing brackets."""

    def __init__(self, handle: IO[bytes], info: dict[str, Any]):
        self.handle = handle
        self.first = True
        header = {"bioctype": "BioCCollection", "source": "biomedserve annotate", "date": "",
                  "key": "biomedserve.key", "version": "1.0", "infons": _collection_infons(info)}
        opening = json.dumps(header, ensure_ascii=False)[:-1] + ', "documents": [\n'
        handle.write(opening.encode("utf-8"))

    def write(self, record: dict[str, Any], line: str) -> None:
        from bioc.biocjson import toJSON

        prefix = b"" if self.first else b",\n"
        self.first = False
        self.handle.write(prefix + json.dumps(toJSON(to_bioc_document(record)), ensure_ascii=False).encode("utf-8"))

    def close(self) -> None:
        self.handle.write(b"\n]}\n")


WRITERS = {"jsonl": JsonlWriter, "pubtator": PubtatorWriter, "bioc": BiocXmlWriter, "bioc-json": BiocJsonWriter}


def open_writer(fmt: str, handle: IO[bytes], info: dict[str, Any] | None = None) -> Writer:
    """A writer for ``fmt`` on a binary handle; ``info`` carries collection-level facts (the models)."""
    return WRITERS[fmt](handle, info or {})
