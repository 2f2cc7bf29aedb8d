"""The records that flow through an annotation job: documents, read errors, deletions, groups.

A reader turns every input file into a sequence of *items*, each numbered by its position in the
file: a :class:`Document`, a :class:`ReadError` (a malformed record, or the point where a broken file
stops) or a :class:`Deletion` (a PubMed ``DeleteCitation``). Numbering errors and deletions like
documents is what makes resuming exact: the manifest stores "file 3, item 1200" and a rerun skips
exactly that many items, whatever they were.

Items are cut into :class:`Group` s of at most ``group_size`` consecutive items of one file. A group
is the unit the models see in one call. That is not a detail: ONNX Runtime's dynamic int8
quantisation scales activations per tensor, so a document's entities can depend on which other
documents share its batch (seen on the MiniLM int8 model: some abstracts' spans changed when they
were batched differently). Fixing the groups by position in the input makes the output the same
whatever engine runs it, and whether or not the run was interrupted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Union

#: characters XML 1.0 cannot hold (C0 controls but tab/newline/CR, surrogates, U+FFFE/U+FFFF)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Replace characters no output format can carry, one for one, so offsets do not move.

    Control characters become spaces; lone surrogates (JSON allows ``"\\ud800"``) and the XML
    non-characters become U+FFFD. Every writer (JSONL, PubTator, BioC XML) can then write the same
    text, and an offset means the same character in all of them.
    """
    return _NOT_XML.sub("\ufffd", _CONTROL.sub(" ", text))


def squeeze(text: str) -> str:
    """Collapse runs of whitespace (XML pretty-printing, line breaks) to one space and strip."""
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class Passage:
    """A span of the document text the models annotate on its own: a title, an abstract section, a text.

    ``offset`` is where the passage starts in :attr:`Document.text`. Annotating passages separately
    keeps an entity from straddling the title and the abstract (or two abstract sections) and maps
    one-to-one onto BioC passages.
    """

    type: str  # "title", "abstract" or "text"
    offset: int
    text: str
    label: str | None = None  # structured abstract: AbstractText/@Label, e.g. "METHODS"
    category: str | None = None  # AbstractText/@NlmCategory, e.g. "METHODS"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "offset": self.offset, "length": len(self.text)}
        if self.label is not None:
            out["label"] = self.label
        if self.category is not None:
            out["category"] = self.category
        return out


@dataclass(frozen=True)
class Document:
    """One document to annotate: an id, the text the offsets index, and its passages.

    ``text`` is ``title + " " + abstract`` (the PubTator convention), where a structured abstract is
    its sections' texts joined by single spaces, labels left out of the text (they are kept on the
    passages). A document with only a title or only a text is just that.
    """

    id: str
    text: str
    passages: tuple[Passage, ...]
    dates: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return next((p.text for p in self.passages if p.type == "title"), "")

    @classmethod
    def build(cls, doc_id: str, title: str = "", sections: list[tuple[str, str | None, str | None]] | None = None,
              dates: dict[str, str] | None = None, text_type: str = "abstract") -> "Document":
        """Assemble the text and passage offsets from a title and ``(text, label, category)`` sections.

        Empty sections are dropped; ``text_type`` names the passages after the title ("abstract" for
        PubMed, "text" for plain texts).
        """
        parts: list[Passage] = []
        pieces: list[str] = []
        offset = 0
        title = clean_text(title)
        if title:
            parts.append(Passage("title", 0, title))
            pieces.append(title)
            offset = len(title) + 1
        for text, label, category in sections or []:
            text = clean_text(text)
            if not text:
                continue
            parts.append(Passage(text_type, offset, text, label, category))
            pieces.append(text)
            offset += len(text) + 1
        return cls(str(doc_id), " ".join(pieces), tuple(parts), dict(dates or {}))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form (for Ray rows), read back by :meth:`from_dict`."""
        return {"id": self.id, "text": self.text, "passages": [p.to_dict() for p in self.passages],
                "dates": self.dates}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Document":
        text = data["text"]
        passages = tuple(
            Passage(p["type"], p["offset"], text[p["offset"]:p["offset"] + p["length"]], p.get("label"),
                    p.get("category"))
            for p in data["passages"]
        )
        return cls(data["id"], text, passages, dict(data.get("dates", {})))


@dataclass(frozen=True)
class ReadError:
    """A record (or the rest of a file) that could not be read: logged to the errors file, skipped."""

    source: str
    location: str  # "line 7", "article 3 (line 120)", "byte 5123"...
    reason: str
    id: str | None = None  # the PMID / id when it could be read

    def to_dict(self) -> dict[str, Any]:
        out = {"source": self.source, "location": self.location, "reason": self.reason}
        if self.id is not None:
            out["id"] = self.id
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ReadError":
        return cls(data["source"], data["location"], data["reason"], data.get("id"))


@dataclass(frozen=True)
class Deletion:
    """A PubMed ``DeleteCitation``: these PMIDs, read earlier in the input, leave the output."""

    ids: tuple[str, ...]


Item = Union[Document, ReadError, Deletion]


def item_to_dict(item: Item) -> dict[str, Any]:
    if isinstance(item, Document):
        return {"doc": item.to_dict()}
    if isinstance(item, ReadError):
        return {"error": item.to_dict()}
    return {"delete": list(item.ids)}


def item_from_dict(data: dict[str, Any]) -> Item:
    if "doc" in data:
        return Document.from_dict(data["doc"])
    if "error" in data:
        return ReadError.from_dict(data["error"])
    return Deletion(tuple(data["delete"]))


@dataclass
class Group:
    """Consecutive items ``start .. next-1`` of input file ``file_index``: one model call's worth."""

    file_index: int
    start: int
    items: list[Item]

    @property
    def next(self) -> int:
        """The item number a resumed run starts from once this group is written."""
        return self.start + len(self.items)

    @property
    def documents(self) -> list[Document]:
        return [item for item in self.items if isinstance(item, Document)]


@dataclass
class Annotated:
    """A group after the models: its position and, per item, a record line, an error or a deletion.

    ``entries`` are JSON-safe dicts so the Ray engine can ship them between processes unchanged:
    ``{"id", "line"}`` for a document (``line`` is the canonical JSON record), ``{"error": {...}}``
    and ``{"delete": [pmid, ...]}``.
    """

    file_index: int
    start: int
    entries: list[dict[str, Any]]
    # wall-clock (time.time) start and end of the model calls: throughput net of start-up, on any engine
    timing: tuple[float, float] | None = None

    @property
    def next(self) -> int:
        return self.start + len(self.entries)
