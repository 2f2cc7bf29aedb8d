"""Hand-written PubMed XML samples (structured, unicode, empty, malformed,
DeleteCitation, book articles), JSONL and text, plus a corpus builder for the job tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

HEADER = ('<?xml version="1.0" encoding="utf-8"?>\n'
          '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN" '
          '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">\n<PubmedArticleSet>\n')
FOOTER = "</PubmedArticleSet>\n"

STRUCTURED = """<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM">
    <PMID Version="1">1001</PMID>
    <DateCompleted><Year>2020</Year><Month>01</Month><Day>5</Day></DateCompleted>
    <DateRevised><Year>2021</Year><Month>3</Month><Day>14</Day></DateRevised>
    <Article PubModel="Print">
      <Journal><JournalIssue><PubDate><Year>2019</Year><Month>Dec</Month></PubDate></JournalIssue></Journal>
      <ArticleTitle>Naloxone reverses the <i>hypotensive</i> effect of clonidine.</ArticleTitle>
      <Abstract>
        <AbstractText Label="BACKGROUND" NlmCategory="BACKGROUND">Clonidine lowers blood pressure.</AbstractText>
        <AbstractText Label="METHODS" NlmCategory="METHODS">Rats were given   naloxone
           and cisplatin (CDDP).</AbstractText>
        <AbstractText Label="RESULTS" NlmCategory="RESULTS"></AbstractText>
        <CopyrightInformation>© 2019 Someone.</CopyrightInformation>
      </Abstract>
      <ArticleDate DateType="Electronic"><Year>2019</Year><Month>11</Month><Day>02</Day></ArticleDate>
    </Article>
  </MedlineCitation>
</PubmedArticle>
"""

UNICODE = """<PubmedArticle><MedlineCitation><PMID>1002</PMID><Article>
<ArticleTitle>Effets du β-carotène sur Ca<sup>2+</sup> — étude «in vitro»</ArticleTitle>
<Abstract><AbstractText>L’acide acétylsalicylique (aspirine) et le 5-fluorouracile… résultats 日本語.</AbstractText></Abstract>
</Article></MedlineCitation></PubmedArticle>
"""

EMPTY_ABSTRACT = """<PubmedArticle><MedlineCitation><PMID>1003</PMID><Article>
<ArticleTitle>Title only: dopamine in the striatum.</ArticleTitle><Abstract/></Article></MedlineCitation></PubmedArticle>
"""

NO_PMID = """<PubmedArticle><MedlineCitation><Article><ArticleTitle>A record without its PMID.</ArticleTitle>
</Article></MedlineCitation></PubmedArticle>
"""

BAD_PMID = """<PubmedArticle><MedlineCitation><PMID>12x</PMID><Article><ArticleTitle>Bad id.</ArticleTitle>
</Article></MedlineCitation></PubmedArticle>
"""

BOOK = """<PubmedBookArticle><BookDocument><PMID>1004</PMID><ArticleTitle>Haloperidol: a chapter.</ArticleTitle>
<Abstract><AbstractText>Haloperidol blocks dopamine receptors.</AbstractText></Abstract></BookDocument></PubmedBookArticle>
"""

DELETE = """<DeleteCitation><PMID Version="1">1003</PMID><PMID Version="1">77</PMID></DeleteCitation>
"""


def article(pmid: int | str, title: str, abstract: str = "", label: str | None = None) -> str:
    label_attr = f' Label="{label}"' if label else ""
    body = f"<Abstract><AbstractText{label_attr}>{abstract}</AbstractText></Abstract>" if abstract else ""
    return (f"<PubmedArticle><MedlineCitation><PMID>{pmid}</PMID><Article><ArticleTitle>{title}</ArticleTitle>"
            f"{body}</Article></MedlineCitation></PubmedArticle>\n")


def pubmed_xml(*children: str) -> str:
    return HEADER + "".join(children) + FOOTER


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


SENTENCES = [
    "Naloxone reversed the hypotensive effect of clonidine in rats.",
    "Cisplatin and 5-fluorouracil were given with leucovorin.",
    "Selegiline-induced postural hypotension in Parkinson's disease.",
    "Lithium carbonate toxicity was treated with haemodialysis.",
    "The β-blocker propranolol lowered Ca2+ influx in α-cells.",
    "Dopamine and haloperidol interact at D2 receptors.",
]


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A small mixed corpus: two XML files (one gzipped, with a malformed record and a
    DeleteCitation of a PMID from the first file), a truncated XML, JSONL with a bad line, a text."""
    root = tmp_path / "corpus"
    first = [STRUCTURED, UNICODE, EMPTY_ABSTRACT] + [
        article(2000 + i, SENTENCES[i % 6], " ".join(SENTENCES[(i + k) % 6] for k in range(1 + i % 4)), "RESULTS")
        for i in range(30)]
    write(root / "a_baseline.xml", pubmed_xml(*first))
    second = [article(3000 + i, SENTENCES[(i + 3) % 6], SENTENCES[i % 6]) for i in range(12)]
    second.insert(4, NO_PMID)
    write(root / "b_update.xml.gz", pubmed_xml(*second, BOOK, DELETE))
    broken = pubmed_xml(*[article(4000 + i, SENTENCES[i % 6], SENTENCES[(i + 1) % 6]) for i in range(6)])
    write(root / "c_truncated.xml", broken[: broken.index("<PMID>4004")])
    lines = [json.dumps({"id": f"j{i}", "title": SENTENCES[i % 6], "abstract": SENTENCES[(i + 2) % 6]}) for i in range(8)]
    lines.insert(3, "{not json")
    lines.append(json.dumps({"id": "t1", "text": "Tabs\tand\nnewlines: naloxone\r\nand clonidine."}, ensure_ascii=False))
    write(root / "d_more.jsonl", "\n".join(lines) + "\n")
    write(root / "notes" / "e_note.txt", "Aspirin and ibuprofen are NSAIDs.\nWarfarin is not.\n")
    (root / "a_baseline.xml.md5").write_text("not an input\n")
    return root
