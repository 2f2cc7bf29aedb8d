"""Streaming readers: PubMed/MEDLINE XML, JSONL and plain text, from files, directories or globs.

Each reader yields numbered items (see :mod:`biomedserve.data.documents`) one at a time, so
memory stays flat whatever the file size: PubMed XML is parsed with lxml's ``iterparse`` and every
article is cleared (and unlinked from the root) once read. A malformed record becomes a
:class:`ReadError` item and reading goes on; a file that breaks off (truncated XML or gzip) yields
the records before the break and then one error item, and the job moves to the next file.

``skip`` lets a resumed run start inside a file: the skipped items are still scanned (XML has no
index) but not converted, which is cheap next to inference.
"""

from __future__ import annotations

import glob
import gzip
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from biomedserve.data.documents import Deletion, Document, Group, Item, ReadError, squeeze
from biomedserve.errors import BiomedserveError

#: recognised input suffixes (lower-case) and the reader each one takes
SUFFIXES = {".xml": "pubmed", ".xml.gz": "pubmed", ".jsonl": "jsonl", ".jsonl.gz": "jsonl",
            ".ndjson": "jsonl", ".txt": "text"}


class InputNotFoundError(BiomedserveError):
    """An input argument names nothing readable."""


@dataclass(frozen=True)
class Source:
    """One input file, its position in the job's input list, and its reader."""

    index: int
    path: str  # as the user named it: what error messages show
    kind: str  # "pubmed", "jsonl" or "text"
    file: str = ""  # the absolute path to open (Ray workers may run in another directory)

    @property
    def opens(self) -> str:
        return self.file or self.path


def kind_of(name: str) -> str | None:
    lower = name.lower()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return SUFFIXES[suffix]
    return None


def _files_under(directory: Path) -> list[str]:
    return sorted(p.as_posix() for p in directory.rglob("*") if p.is_file() and kind_of(p.name))


def resolve_inputs(arguments: Sequence[str]) -> list[Source]:
    """Files, directories (recursively) and globs, expanded in a defined order.

    Arguments keep the order given; a directory or glob expands to its recognised files sorted by
    path (PubMed's zero-padded ``pubmed25n0001.xml.gz`` names then come in release order). Other
    files in a directory (``.md5`` checksums, READMEs) are ignored; a file named explicitly must
    have a recognised suffix. A path given twice is read once.
    """
    expanded: list[str] = []
    known = ", ".join(SUFFIXES)
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = _files_under(path)
            if not found:
                raise InputNotFoundError(f"{argument}: no input files in this directory (looked for {known})")
        elif path.is_file():
            if kind_of(path.name) is None:
                raise InputNotFoundError(f"{argument}: unknown input type; expected a file ending in {known}")
            found = [argument]
        elif glob.has_magic(argument):
            found = []
            for match in sorted(glob.glob(argument, recursive=True)):
                if Path(match).is_dir():
                    found += _files_under(Path(match))
                elif kind_of(match):
                    found.append(match)
            if not found:
                raise InputNotFoundError(f"{argument}: the pattern matches no input files ({known})")
        else:
            raise InputNotFoundError(f"{argument}: no such file or directory")
        expanded += found
    seen: set[str] = set()
    sources = []
    for name in expanded:
        key = str(Path(name).resolve())
        if key not in seen:
            seen.add(key)
            sources.append(Source(len(sources), name, kind_of(name), key))
    if not sources:
        raise InputNotFoundError("no input files given")
    return sources


def open_binary(path: str) -> IO[bytes]:
    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")


class _ShortReads:
    """``read(n)`` as one ``read1(n)``: a truncated .gz then yields all the data before the break.

    ``GzipFile.read(n)`` fills ``n`` bytes through a buffered reader, and an ``EOFError`` at a
    truncated end throws away what that call had already decompressed — the records just before
    the break.
    """

    def __init__(self, handle):
        self.handle = handle

    def read(self, size: int = -1) -> bytes:
        return self.handle.read1(size if size and size > 0 else 1 << 16)


def iter_lines(handle) -> Iterator[bytes]:
    """Lines without their newline, read in short reads (see :class:`_ShortReads`)."""
    read = getattr(handle, "read1", handle.read)
    pending = b""
    while chunk := read(1 << 16):
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        yield from lines
    if pending:
        yield pending


# ---------------------------------------------------------------- PubMed / MEDLINE XML
def _text(element) -> str:
    """All text inside an element (inline <i>, <sub>, MathML included), whitespace squeezed."""
    return squeeze("".join(element.itertext())) if element is not None else ""


def _date(element, numeric: bool = True) -> str | None:
    """``YYYY-MM-DD`` for MEDLINE's numeric dates; PubDate keeps its words ("2019 Jan 5", MedlineDate)."""
    if element is None:
        return None
    parts = [_text(element.find(tag)) for tag in ("Year", "Month", "Day")]
    parts = [p for p in parts if p]
    if not parts:
        medline = _text(element.find("MedlineDate"))
        return medline or None
    if numeric and all(p.isdigit() for p in parts):
        return "-".join([parts[0]] + [p.zfill(2) for p in parts[1:]])
    return " ".join(parts)


def _dates(citation, article) -> dict[str, str]:
    found = {
        "completed": _date(citation.find("DateCompleted")),
        "revised": _date(citation.find("DateRevised")),
        "published": _date(article.find("Journal/JournalIssue/PubDate"), numeric=False) if article is not None else None,
        "electronic": _date(article.find("ArticleDate")) if article is not None else None,
    }
    return {key: value for key, value in found.items() if value}


def _sections(abstract) -> list[tuple[str, str | None, str | None]]:
    if abstract is None:
        return []
    return [(_text(part), part.get("Label"), part.get("NlmCategory")) for part in abstract.findall("AbstractText")]


def _pmid(element) -> str:
    return _text(element.find("PMID")) if element is not None else ""


def parse_pubmed_element(element, source: str, number: int) -> Item:
    """One child of ``PubmedArticleSet``: an article, a book article or a ``DeleteCitation``."""
    tag = element.tag if isinstance(element.tag, str) else "?"
    where = f"{tag} {number + 1} (line {element.sourceline})"
    if tag == "DeleteCitation":
        ids = tuple(i for i in (_text(p) for p in element.iter("PMID")) if i)
        return Deletion(ids) if ids else ReadError(source, where, "DeleteCitation lists no PMID")
    if tag == "PubmedArticle":
        citation = element.find("MedlineCitation")
        if citation is None:
            return ReadError(source, where, "no MedlineCitation element")
        pmid = _pmid(citation)
        article = citation.find("Article")
        title, sections = _text(article.find("ArticleTitle")) if article is not None else "", []
        if article is not None:
            sections = _sections(article.find("Abstract"))
        dates = _dates(citation, article)
        if article is None and pmid:
            return ReadError(source, where, "no Article element", pmid)
    elif tag == "PubmedBookArticle":
        book = element.find("BookDocument")
        if book is None:
            return ReadError(source, where, "no BookDocument element")
        pmid = _pmid(book)
        title = _text(book.find("ArticleTitle")) or _text(book.find("Book/BookTitle"))
        sections = _sections(book.find("Abstract"))
        dates = {}
    else:
        return ReadError(source, where, f"unexpected element <{tag}> in PubmedArticleSet")
    if not pmid:
        return ReadError(source, where, "no PMID")
    if not pmid.isdigit():
        return ReadError(source, where, f"PMID {pmid!r} is not a number", pmid)
    return Document.build(pmid, title, sections, dates)


def _error_position(exc: Exception) -> str:
    position = getattr(exc, "position", None)
    if position and position[0]:
        return f"line {position[0]}, column {position[1]}"
    return "end of the readable part"


def read_pubmed_xml(source: Source, skip: int = 0) -> Iterator[tuple[int, Item]]:
    """``(number, item)`` for each child of the root ``PubmedArticleSet``, from ``skip`` on."""
    from lxml import etree

    number = 0
    try:
        with open_binary(source.opens) as handle:
            # no DTD loading, no network, no entity expansion: PubMed's DOCTYPE points at a URL
            events = etree.iterparse(_ShortReads(handle), events=("end",), load_dtd=False, no_network=True,
                                     resolve_entities=False, remove_comments=True, remove_pis=True)
            for _, element in events:
                parent = element.getparent()
                if parent is None:  # the root closed: check it was a PubMed file at all
                    if element.tag not in ("PubmedArticleSet", "PubmedBookArticleSet") and number == 0:
                        if skip == 0:
                            yield 0, ReadError(source.path, "root element",
                                               f"not PubMed XML: the root element is <{element.tag}>")
                        number += 1
                    continue
                if parent.getparent() is not None:
                    continue  # inside an article: wait for the article's own end event
                if number == 0 and parent.tag not in ("PubmedArticleSet", "PubmedBookArticleSet"):
                    if skip == 0:
                        yield 0, ReadError(source.path, "root element",
                                           f"not PubMed XML: the root element is <{parent.tag}>")
                    return
                if number >= skip:
                    yield number, parse_pubmed_element(element, source.path, number)
                number += 1
                element.clear(keep_tail=True)
                while element.getprevious() is not None:  # constant memory: unlink what was read
                    del parent[0]
    except Exception as exc:  # noqa: BLE001 - a broken file (XML, gzip, I/O) must not stop the job
        if number >= skip:
            kept = f"; the {number} records before it were kept" if number else ""
            yield number, ReadError(source.path, _error_position(exc),
                                    f"file is truncated or malformed ({type(exc).__name__}: {exc}){kept}")


# ---------------------------------------------------------------- JSONL
def _json_text(value, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"field {field!r} is {type(value).__name__}, expected a string")
    return value


def parse_json_record(line: bytes, source: str, lineno: int) -> Item:
    """``{"id", "text"}`` or ``{"id", "title", "abstract"}`` (``pmid`` is accepted for ``id``)."""
    where = f"line {lineno}"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ReadError(source, where, f"not UTF-8 ({exc.reason} at byte {exc.start})")
    try:
        record = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        return ReadError(source, where, f"invalid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(record, dict):
        return ReadError(source, where, f"expected a JSON object, got {type(record).__name__}")
    doc_id = record.get("id", record.get("pmid"))
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)) or str(doc_id) == "":
        return ReadError(source, where, "missing 'id' (a non-empty string or integer)")
    doc_id = str(doc_id)
    try:
        if "title" in record or "abstract" in record:
            title = _json_text(record.get("title"), "title")
            abstract = _json_text(record.get("abstract"), "abstract")
            return Document.build(doc_id, title, [(abstract, None, None)])
        if "text" in record:
            return Document.build(doc_id, "", [(_json_text(record["text"], "text"), None, None)], text_type="text")
    except ValueError as exc:
        return ReadError(source, where, str(exc), doc_id)
    return ReadError(source, where, "no text: expected a 'text' field, or 'title' and/or 'abstract'", doc_id)


def read_jsonl(source: Source, skip: int = 0) -> Iterator[tuple[int, Item]]:
    """One item per non-blank line (blank lines are not numbered), ``.jsonl`` or ``.jsonl.gz``."""
    number = lineno = 0
    try:
        with open_binary(source.opens) as handle:
            for lineno, line in enumerate(iter_lines(handle), 1):
                if not line.strip():
                    continue
                if number >= skip:
                    yield number, parse_json_record(line, source.path, lineno)
                number += 1
    except Exception as exc:  # noqa: BLE001 - e.g. a truncated .gz: keep what was read, log, go on
        if number >= skip:
            yield number, ReadError(source.path, f"line {lineno + 1}",
                                    f"file is truncated or unreadable ({type(exc).__name__}: {exc})")


# ---------------------------------------------------------------- plain text
def read_text(source: Source, skip: int = 0) -> Iterator[tuple[int, Item]]:
    """The whole file is one document; its id is the file name without ``.txt``."""
    if skip > 0:
        return
    name = Path(source.path).name
    doc_id = name[: -len(".txt")] if name.lower().endswith(".txt") else name
    try:
        data = Path(source.opens).read_bytes()
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield 0, ReadError(source.path, f"byte {exc.start}", f"not UTF-8 text ({exc.reason})", doc_id)
        return
    except OSError as exc:
        yield 0, ReadError(source.path, "file", f"unreadable: {exc}", doc_id)
        return
    yield 0, Document.build(doc_id, "", [(text, None, None)], text_type="text")


READERS = {"pubmed": read_pubmed_xml, "jsonl": read_jsonl, "text": read_text}


def read_items(source: Source, skip: int = 0) -> Iterator[tuple[int, Item]]:
    return READERS[source.kind](source, skip)


def read_groups(source: Source, group_size: int, skip: int = 0) -> Iterator[Group]:
    """The file's items from ``skip`` on, cut into groups of ``group_size`` (the last may be shorter).

    Groups are aligned to ``skip``, which is always a group boundary of an earlier run, so a
    resumed run forms exactly the groups an uninterrupted one would.
    """
    group = Group(source.index, skip, [])
    for number, item in read_items(source, skip):
        if number != group.next:  # readers number consecutively; anything else is a bug
            raise RuntimeError(f"{source.path}: item {number} after {group.next - 1}")
        group.items.append(item)
        if len(group.items) >= group_size:
            yield group
            group = Group(source.index, group.next, [])
    if group.items:
        yield group


def iter_groups(sources: Sequence[Source], group_size: int, start: tuple[int, int] = (0, 0)) -> Iterator[Group]:
    """All groups of all sources, from position ``start`` = (file index, item number)."""
    first, skip = start
    for source in sources[first:]:
        yield from read_groups(source, group_size, skip if source.index == first else 0)


# ---------------------------------------------------------------- size estimate for the progress bar
def _count_bytes(path: str, needles: tuple[bytes, ...], block: int = 1 << 22) -> int:
    """Occurrences of ``needles`` in the (decompressed) file; a truncated file counts up to its break."""
    count, tail = 0, b""
    keep = max(len(n) for n in needles) - 1
    try:
        with open_binary(path) as handle:
            reader = _ShortReads(handle) if hasattr(handle, "read1") else handle
            while chunk := reader.read(block):
                data = tail + chunk
                count += sum(data.count(n) - tail.count(n) for n in needles)  # tail: counted before
                tail = data[-keep:]
    except Exception:  # noqa: BLE001 - an estimate; the reader reports broken files properly
        pass
    return count


def estimate_documents(sources: Sequence[Source]) -> int:
    """Documents in the inputs, counted cheaply (closing tags, lines): the progress bar's total."""
    total = 0
    for source in sources:
        try:
            if source.kind == "pubmed":
                total += _count_bytes(source.opens, (b"</PubmedArticle>", b"</PubmedBookArticle>"))
            elif source.kind == "jsonl":
                with open_binary(source.opens) as handle:
                    total += sum(1 for line in iter_lines(handle) if line.strip())
            else:
                total += 1
        except Exception:  # noqa: BLE001 - an estimate; the reader reports broken files properly
            continue
    return total


class BackgroundEstimate:
    """Count documents on a daemon thread so the job starts at once; ``value`` is None until done."""

    def __init__(self, sources: Sequence[Source]):
        self.value: int | None = None
        self._thread = threading.Thread(target=self._run, args=(list(sources),), daemon=True)
        self._thread.start()

    def _run(self, sources: list[Source]) -> None:
        self.value = estimate_documents(sources)
