"""Readers on small hand-written inputs: PubMed XML (structured, unicode, empty, malformed,
DeleteCitation, .xml.gz, truncated), JSONL, text, and input expansion."""

import gzip
import json

import pytest

from biomedserve.data.document_readers import (
    InputNotFoundError,
    Source,
    estimate_documents,
    iter_groups,
    read_groups,
    read_items,
    resolve_inputs,
)
from biomedserve.data.documents import Deletion, Document, ReadError, clean_text
from tests.pubmed_samples import (
    BAD_PMID,
    BOOK,
    DELETE,
    EMPTY_ABSTRACT,
    NO_PMID,
    STRUCTURED,
    UNICODE,
    article,
    pubmed_xml,
    write,
)


def items(path, kind="pubmed", skip=0):
    return [item for _, item in read_items(Source(0, str(path), kind), skip)]


def test_structured_abstract_sections_offsets_and_dates(tmp_path):
    [doc] = items(write(tmp_path / "s.xml", pubmed_xml(STRUCTURED)))
    assert doc.id == "1001"
    title = "Naloxone reverses the hypotensive effect of clonidine."
    assert doc.title == title
    # sections joined by one space, whitespace squeezed, empty section and copyright left out
    assert doc.text == title + " Clonidine lowers blood pressure. Rats were given naloxone and cisplatin (CDDP)."
    assert [(p.type, p.label, p.category) for p in doc.passages] == [
        ("title", None, None), ("abstract", "BACKGROUND", "BACKGROUND"), ("abstract", "METHODS", "METHODS")]
    for p in doc.passages:
        assert doc.text[p.offset:p.offset + len(p.text)] == p.text
    assert doc.dates == {"completed": "2020-01-05", "revised": "2021-03-14", "published": "2019 Dec",
                         "electronic": "2019-11-02"}


def test_unicode_inline_markup_and_book_articles(tmp_path):
    unicode_doc, book = items(write(tmp_path / "u.xml", pubmed_xml(UNICODE, BOOK)))
    assert unicode_doc.title == "Effets du β-carotène sur Ca2+ — étude «in vitro»"
    assert unicode_doc.text.endswith("5-fluorouracile… résultats 日本語.")
    assert (book.id, book.title) == ("1004", "Haloperidol: a chapter.")
    assert book.text == "Haloperidol: a chapter. Haloperidol blocks dopamine receptors."


def test_empty_abstract_is_a_title_only_document(tmp_path):
    [doc] = items(write(tmp_path / "e.xml", pubmed_xml(EMPTY_ABSTRACT)))
    assert doc.text == doc.title == "Title only: dopamine in the striatum."
    assert [p.type for p in doc.passages] == ["title"]


def test_malformed_records_become_errors_and_reading_goes_on(tmp_path):
    path = write(tmp_path / "m.xml", pubmed_xml(article(1, "First."), NO_PMID, BAD_PMID, "<Junk/>\n", article(2, "Last.")))
    got = items(path)
    assert [type(i).__name__ for i in got] == ["Document", "ReadError", "ReadError", "ReadError", "Document"]
    assert got[1].reason == "no PMID" and got[1].location == "PubmedArticle 2 (line 5)"
    assert "12x" in got[2].reason and got[2].id == "12x"
    assert "unexpected element <Junk>" in got[3].reason
    assert got[4].id == "2"


def test_delete_citation_lists_its_pmids(tmp_path):
    got = items(write(tmp_path / "d.xml", pubmed_xml(article(1, "A."), DELETE)))
    assert got[1] == Deletion(("1003", "77"))


def test_gzipped_xml_reads_like_plain(tmp_path):
    text = pubmed_xml(STRUCTURED, UNICODE, EMPTY_ABSTRACT, DELETE)
    assert items(write(tmp_path / "x.xml.gz", text)) == items(write(tmp_path / "x.xml", text))


@pytest.mark.parametrize("name", ["t.xml", "t.xml.gz"])
def test_truncated_file_keeps_the_records_before_the_break(tmp_path, name):
    full = pubmed_xml(*[article(i, f"Title {i} " + "word " * 400) for i in range(1, 41)])
    data = full.encode()
    if name.endswith(".gz"):
        data = gzip.compress(data)
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    got = items(path)
    *docs, error = got
    assert docs and all(isinstance(d, Document) for d in docs)
    assert [d.id for d in docs] == [str(i) for i in range(1, len(docs) + 1)]
    assert isinstance(error, ReadError) and "truncated or malformed" in error.reason
    assert f"the {len(docs)} records before it were kept" in error.reason


def test_not_pubmed_and_empty_files_are_one_error(tmp_path):
    [error] = items(write(tmp_path / "h.xml", "<html><body><p>hi</p></body></html>"))
    assert "not PubMed XML" in error.reason and "<html>" in error.reason
    [error] = items(write(tmp_path / "empty.xml", ""))
    assert isinstance(error, ReadError)


def test_skip_continues_the_numbering(tmp_path):
    path = write(tmp_path / "k.xml", pubmed_xml(*[article(i, f"T{i}.") for i in range(1, 8)], NO_PMID, DELETE))
    everything = list(read_items(Source(0, str(path), "pubmed")))
    assert [n for n, _ in everything] == list(range(9))
    assert list(read_items(Source(0, str(path), "pubmed"), skip=5)) == everything[5:]


def test_jsonl_records_and_their_errors(tmp_path):
    lines = [
        json.dumps({"id": "a", "text": "Aspirin\tworks."}),
        "",
        json.dumps({"pmid": 12, "title": "T", "abstract": "Abstract."}),
        json.dumps({"id": "c", "title": "Only a title"}),
        "{broken",
        json.dumps([1, 2]),
        json.dumps({"text": "no id"}),
        json.dumps({"id": "d", "text": 5}),
        json.dumps({"id": "e", "other": "x"}),
        json.dumps({"id": "f", "text": "lone \ud800 surrogate and \x07 bell"}),
    ]
    path = tmp_path / "r.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "g", "text": "\xff bad utf8"}\n')
    got = items(path, "jsonl")
    assert got[0].text == "Aspirin\tworks." and got[0].passages[0].type == "text"
    assert (got[1].id, got[1].text, [p.offset for p in got[1].passages]) == ("12", "T Abstract.", [0, 2])
    assert got[2].text == "Only a title"
    errors = {e.location: e.reason for e in got if isinstance(e, ReadError)}
    assert errors["line 5"].startswith("invalid JSON")  # blank line 2 is not an item but keeps its number
    assert "expected a JSON object" in errors["line 6"]
    assert "missing 'id'" in errors["line 7"]
    assert "'text' is int" in errors["line 8"]
    assert "no text" in errors["line 9"]
    assert "not UTF-8" in errors["line 11"]
    cleaned = got[-2]
    assert cleaned.text == "lone \ufffd surrogate and   bell" and len(cleaned.text) == len("lone x surrogate and x bell")


def test_truncated_jsonl_gz_keeps_complete_lines(tmp_path):
    data = gzip.compress("".join(json.dumps({"id": i, "text": "w " * 300}) + "\n" for i in range(60)).encode())
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    *docs, error = items(path, "jsonl")
    assert len(docs) > 1 and isinstance(error, ReadError) and "truncated" in error.reason


def test_text_files_are_one_document(tmp_path):
    [doc] = items(write(tmp_path / "note.txt", "Line one.\nLine two.\n"), "text")
    assert (doc.id, doc.text) == ("note", "Line one.\nLine two.\n")
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9")
    [error] = items(tmp_path / "bad.txt", "text")
    assert isinstance(error, ReadError) and "not UTF-8" in error.reason


def test_resolve_inputs_expands_directories_and_globs_in_order(corpus, tmp_path):
    sources = resolve_inputs([str(corpus)])
    names = [s.path.removeprefix(str(corpus) + "/") for s in sources]
    assert names == ["a_baseline.xml", "b_update.xml.gz", "c_truncated.xml", "d_more.jsonl", "notes/e_note.txt"]
    assert [s.kind for s in sources] == ["pubmed", "pubmed", "pubmed", "jsonl", "text"]
    assert [s.index for s in sources] == list(range(5))
    globbed = resolve_inputs([str(corpus / "d_*.jsonl"), str(corpus / "*.xml*"), str(corpus / "d_more.jsonl")])
    assert [s.path.rsplit("/", 1)[1] for s in globbed] == ["d_more.jsonl", "a_baseline.xml", "b_update.xml.gz",
                                                           "c_truncated.xml"]
    with pytest.raises(InputNotFoundError, match="no such file"):
        resolve_inputs([str(tmp_path / "missing.xml")])
    with pytest.raises(InputNotFoundError, match="unknown input type"):
        resolve_inputs([str(corpus / "a_baseline.xml.md5")])
    with pytest.raises(InputNotFoundError, match="matches no input"):
        resolve_inputs([str(tmp_path / "*.nothing")])


def test_groups_are_aligned_and_resumable(corpus):
    sources = resolve_inputs([str(corpus)])
    groups = list(iter_groups(sources, 4))
    assert all(len(g.items) <= 4 for g in groups)
    for g in groups:
        assert g.start % 4 == 0 and g.next == g.start + len(g.items)
    middle = groups[len(groups) // 2]
    resumed = list(iter_groups(sources, 4, (middle.file_index, middle.start)))
    assert resumed == groups[len(groups) // 2:]
    assert list(read_groups(sources[1], 5, skip=5))[0].start == 5
    assert estimate_documents(sources) >= 33 + 13 + 4 + 8 + 1


def test_clean_text_keeps_length():
    text = "a\x00b\x1fc\ufffed\tok\n"
    assert clean_text(text) == "a b cd\tok\n".replace("cd", "c\ufffdd") and len(clean_text(text)) == len(text)


def test_xml_reading_is_constant_memory(tmp_path):
    """20,000 articles (~14 MB of XML): RSS after the last one is what it was after the 2,000th."""
    psutil = pytest.importorskip("psutil")
    path = tmp_path / "big.xml.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("<PubmedArticleSet>\n")
        for i in range(1, 20_001):
            handle.write(article(i, f"Title {i} on aspirin", "Abstract words " * 40, "RESULTS"))
        handle.write("</PubmedArticleSet>\n")
    process = psutil.Process()
    rss = {}
    for number, _ in read_items(Source(0, str(path), "pubmed")):
        if number + 1 in (2_000, 20_000):
            rss[number + 1] = process.memory_info().rss
    assert rss[20_000] - rss[2_000] < 8 * 2**20  # the tree would hold ~14 MB of text and far more in nodes
