"""Readers on small hand-written files: the good paths and every bad-input path.

Every malformed line must raise :class:`DataFormatError` whose message names the file and the
1-based physical line number (``<path>:<line>: <problem>``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biomedserve.data.pubmedqa import read_pubmedqa
from biomedserve.data.records import DocumentInstance, PairInstance, TaggedSentence
from biomedserve.data.registry import BIO_TAGS, PICO_TAGS
from biomedserve.data.tables import read_bioasq, read_biosses, read_hoc, read_relation_tsv
from biomedserve.data.tagged import read_tagged_tsv
from biomedserve.errors import BiomedserveError, DataFormatError

CHEMPROT = frozenset({"CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9", "false"})
GAD = frozenset({"0", "1"})
YES_NO = frozenset({"yes", "no"})
YES_NO_MAYBE = frozenset({"yes", "no", "maybe"})

GAD_HEADER = "index\tsentence\tlabel"
BIOSSES_HEADER = "pair_id\tsent1\tsent2\tscore"
HOC_HEADER = "labels\tsentence\tindex"


def write(tmp_path: Path, name: str, lines: list[str] | str, newline: str = "\n", trailing: bool = True) -> Path:
    """Write ``lines`` joined by ``newline`` as exact UTF-8 bytes (no newline translation)."""
    text = lines if isinstance(lines, str) else newline.join(lines) + (newline if trailing else "")
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def hoc_labels(*positives: int, n: int = 10) -> str:
    return ",".join(f"{k}_{int(k in positives)}" for k in range(n))


def assert_format_error(excinfo: pytest.ExceptionInfo, path: Path, line: int | None) -> DataFormatError:
    """The error names the file and (where a line applies) the correct 1-based line."""
    err = excinfo.value
    assert isinstance(err, DataFormatError)
    assert isinstance(err, BiomedserveError)
    message = str(err)
    assert path.name in message
    assert err.path == path
    assert err.line == line
    if line is not None:
        assert message.startswith(f"{path}:{line}: "), message
    return err


# ------------------------------------------------------------------------------------------------
# read_tagged_tsv
# ------------------------------------------------------------------------------------------------


class TestTaggedGood:
    def test_sentences_split_on_blank_lines(self, tmp_path):
        path = write(tmp_path, "ner.tsv", [
            "Selegiline\tB", "-\tO", "induced\tO", "",
            "", "",  # several blank lines do not make empty sentences
            "IL-2\tB", "gene\tI", "",
        ])
        got = list(read_tagged_tsv(path, BIO_TAGS))
        assert got == [
            TaggedSentence(["Selegiline", "-", "induced"], ["B", "O", "O"], None, None),
            TaggedSentence(["IL-2", "gene"], ["B", "I"], None, None),
        ]

    def test_whitespace_only_line_is_a_sentence_break(self, tmp_path):
        path = write(tmp_path, "ner.tsv", ["a\tO", "   ", "b\tB"])
        assert [s.tokens for s in read_tagged_tsv(path, BIO_TAGS)] == [["a"], ["b"]]

    def test_is_lazy(self, tmp_path):
        """A generator: sentences before a bad line are produced before the error."""
        path = write(tmp_path, "ner.tsv", ["a\tO", "", "b\tX"])
        reader = read_tagged_tsv(path, BIO_TAGS)
        assert next(reader).tokens == ["a"]
        with pytest.raises(DataFormatError) as excinfo:
            next(reader)
        assert_format_error(excinfo, path, 3)

    def test_docstart_without_parentheses(self, tmp_path):
        path = write(tmp_path, "jnlpba.tsv", [
            "-DOCSTART- 95369245", "", "IL-2\tB", "gene\tI", "", "expression\tO", "",
            "-DOCSTART- 91075236", "", "Disruption\tO", "",
        ])
        got = list(read_tagged_tsv(path, BIO_TAGS))
        assert [(s.tokens, s.doc_id, s.doc_index) for s in got] == [
            (["IL-2", "gene"], "95369245", 0),
            (["expression"], "95369245", 0),
            (["Disruption"], "91075236", 1),
        ]

    def test_docstart_with_parentheses(self, tmp_path):
        path = write(tmp_path, "pico.tsv", [
            "-DOCSTART- (10037531)", "", "Xylitol\tI-INT", "for\tO", ".\tO", "",
            "-DOCSTART- (10040641)", "", "Children\tI-PAR", "",
        ])
        got = list(read_tagged_tsv(path, PICO_TAGS))
        assert got == [
            TaggedSentence(["Xylitol", "for", "."], ["I-INT", "O", "O"], "10037531", 0),
            TaggedSentence(["Children"], ["I-PAR"], "10040641", 1),
        ]

    def test_duplicate_doc_ids_get_distinct_doc_index(self, tmp_path):
        path = write(tmp_path, "dup.tsv", [
            "-DOCSTART- 111", "", "a\tO", "",
            "-DOCSTART- 111", "", "b\tB", "",
            "-DOCSTART- 222", "", "c\tO", "",
            "-DOCSTART- 111", "", "d\tI", "",
        ])
        got = list(read_tagged_tsv(path, BIO_TAGS))
        assert [(s.doc_id, s.doc_index) for s in got] == [("111", 0), ("111", 1), ("222", 2), ("111", 3)]
        assert len({s.doc_index for s in got}) == 4

    def test_docstart_without_blank_line_closes_sentence(self, tmp_path):
        path = write(tmp_path, "ner.tsv", ["-DOCSTART- 1", "a\tO", "-DOCSTART- 2", "b\tO"])
        got = list(read_tagged_tsv(path, BIO_TAGS))
        assert [(s.tokens, s.doc_id, s.doc_index) for s in got] == [(["a"], "1", 0), (["b"], "2", 1)]

    def test_crlf_line_endings(self, tmp_path):
        lines = ["-DOCSTART- (42)", "", "Xylitol\tI-INT", "for\tO", "", "caries\tI-OUT", ""]
        lf = list(read_tagged_tsv(write(tmp_path, "lf.tsv", lines), PICO_TAGS))
        crlf = list(read_tagged_tsv(write(tmp_path, "crlf.tsv", lines, newline="\r\n"), PICO_TAGS))
        assert crlf == lf
        assert crlf[0] == TaggedSentence(["Xylitol", "for"], ["I-INT", "O"], "42", 0)
        assert all("\r" not in item for s in crlf for item in s.tokens + s.tags)

    @pytest.mark.parametrize("trailing", [True, False], ids=["final-newline", "no-final-newline"])
    def test_no_trailing_blank_line(self, tmp_path, trailing):
        path = write(tmp_path, "ner.tsv", ["a\tO", "", "b\tB", "c\tI"], trailing=trailing)
        got = list(read_tagged_tsv(path, BIO_TAGS))
        assert got[-1] == TaggedSentence(["b", "c"], ["B", "I"])
        assert len(got) == 2

    def test_empty_file(self, tmp_path):
        assert list(read_tagged_tsv(write(tmp_path, "empty.tsv", ""), BIO_TAGS)) == []

    def test_token_may_contain_spaces_and_unicode(self, tmp_path):
        path = write(tmp_path, "ner.tsv", ["α-synuclein\tB", "10 mg\tO"])
        assert list(read_tagged_tsv(path, BIO_TAGS))[0].tokens == ["α-synuclein", "10 mg"]


class TestTaggedBad:
    @pytest.mark.parametrize(
        ("bad_line", "tags"),
        [
            ("token_without_tab", BIO_TAGS),
            ("too\tmany\tcolumns", BIO_TAGS),
            ("trailing\tO\t", BIO_TAGS),
            ("\tB", BIO_TAGS),  # empty token
            ("Selegiline\tB-Chemical", BIO_TAGS),  # typed tag in an untyped set
            ("Selegiline\tb", BIO_TAGS),
            ("Selegiline\t", BIO_TAGS),  # empty tag
            ("Xylitol\tB-INT", PICO_TAGS),  # PICO is IO only
            ("Xylitol\tB", PICO_TAGS),
        ],
    )
    def test_bad_line_names_file_and_line(self, tmp_path, bad_line, tags):
        good = "x\tO"
        path = write(tmp_path, "bad.tsv", ["-DOCSTART- (1)", "", good, good, "", good, bad_line, good, ""])
        with pytest.raises(DataFormatError) as excinfo:
            list(read_tagged_tsv(path, tags))
        assert_format_error(excinfo, path, 7)

    def test_unknown_tag_message_lists_allowed(self, tmp_path):
        path = write(tmp_path, "bad.tsv", ["a\tO", "b\tB-PAR"])
        with pytest.raises(DataFormatError) as excinfo:
            list(read_tagged_tsv(path, PICO_TAGS))
        assert_format_error(excinfo, path, 2)
        assert "B-PAR" in str(excinfo.value)
        assert "I-PAR" in str(excinfo.value)

    def test_line_number_with_crlf(self, tmp_path):
        path = write(tmp_path, "bad.tsv", ["a\tO", "", "b\tO", "c\tQ", ""], newline="\r\n")
        with pytest.raises(DataFormatError) as excinfo:
            list(read_tagged_tsv(path, BIO_TAGS))
        assert_format_error(excinfo, path, 4)

    def test_line_number_on_last_line_without_newline(self, tmp_path):
        path = write(tmp_path, "bad.tsv", ["a\tO", "b\tO", "c"], trailing=False)
        with pytest.raises(DataFormatError) as excinfo:
            list(read_tagged_tsv(path, BIO_TAGS))
        assert_format_error(excinfo, path, 3)

    def test_non_utf8_is_a_format_error(self, tmp_path):
        path = tmp_path / "latin1.tsv"
        path.write_bytes(b"a\tO\n\xe9t\xe9\tO\n")
        with pytest.raises(DataFormatError) as excinfo:
            list(read_tagged_tsv(path, BIO_TAGS))
        assert_format_error(excinfo, path, 2)


# ------------------------------------------------------------------------------------------------
# read_relation_tsv
# ------------------------------------------------------------------------------------------------


class TestRelation:
    def test_no_header(self, tmp_path):
        path = write(tmp_path, "chemprot.tsv", [
            "14967461.T22.T1\t@GENE$ inhibitors include @CHEMICAL$ (Iressa).\tCPR:4",
            "",
            "14967461.T24.T11\tpan-erbB @CHEM-GENE$ inhibitor\tfalse",
        ])
        got = list(read_relation_tsv(path, CHEMPROT, header=False))
        assert got == [
            PairInstance("14967461.T22.T1", "@GENE$ inhibitors include @CHEMICAL$ (Iressa).", None, "CPR:4"),
            PairInstance("14967461.T24.T11", "pan-erbB @CHEM-GENE$ inhibitor", None, "false"),
        ]

    def test_header(self, tmp_path):
        path = write(tmp_path, "gad.tsv", [GAD_HEADER, "0\t@GENE$ and @DISEASE$.\t1", "1\tno link\t0"])
        got = list(read_relation_tsv(path, GAD, header=True))
        assert got == [
            PairInstance("0", "@GENE$ and @DISEASE$.", None, "1"),
            PairInstance("1", "no link", None, "0"),
        ]

    def test_header_crlf(self, tmp_path):
        path = write(tmp_path, "gad.tsv", [GAD_HEADER, "0\ts\t1"], newline="\r\n")
        assert list(read_relation_tsv(path, GAD, header=True)) == [PairInstance("0", "s", None, "1")]

    def test_header_only_file_is_empty(self, tmp_path):
        path = write(tmp_path, "gad.tsv", [GAD_HEADER])
        assert list(read_relation_tsv(path, GAD, header=True)) == []

    def test_missing_header(self, tmp_path):
        path = write(tmp_path, "gad.tsv", ["0\ts\t1", "1\ts\t0"])
        with pytest.raises(DataFormatError) as excinfo:
            list(read_relation_tsv(path, GAD, header=True))
        assert_format_error(excinfo, path, 1)
        assert "header" in str(excinfo.value)

    def test_wrong_header(self, tmp_path):
        path = write(tmp_path, "gad.tsv", ["idx\tsentence\tlabel", "0\ts\t1"])
        with pytest.raises(DataFormatError) as excinfo:
            list(read_relation_tsv(path, GAD, header=True))
        assert_format_error(excinfo, path, 1)

    def test_unexpected_header_is_rejected(self, tmp_path):
        """A header in a header-less file is data with an unknown label, not silently skipped."""
        path = write(tmp_path, "gad.tsv", [GAD_HEADER, "0\ts\t1"])
        with pytest.raises(DataFormatError) as excinfo:
            list(read_relation_tsv(path, GAD, header=False))
        assert_format_error(excinfo, path, 1)

    @pytest.mark.parametrize(
        "bad_line",
        ["1\tonly two", "1\ttoo\tmany\tcols", "1\ts\tCPR:1", "1\ts\tCPR:10", "1\ts\tFalse", "1\ts\t"],
    )
    def test_bad_line_no_header(self, tmp_path, bad_line):
        path = write(tmp_path, "chemprot.tsv", ["a\ts\tCPR:3", "", "b\ts\tfalse", bad_line, "c\ts\tCPR:9"])
        with pytest.raises(DataFormatError) as excinfo:
            list(read_relation_tsv(path, CHEMPROT, header=False))
        assert_format_error(excinfo, path, 4)

    @pytest.mark.parametrize("bad_line", ["7\tonly two", "7\ts\t2", "7\ts\tyes"])
    def test_bad_line_with_header(self, tmp_path, bad_line):
        path = write(tmp_path, "gad.tsv", [GAD_HEADER, "0\ts\t1", bad_line], newline="\r\n")
        with pytest.raises(DataFormatError) as excinfo:
            list(read_relation_tsv(path, GAD, header=True))
        assert_format_error(excinfo, path, 3)


# ------------------------------------------------------------------------------------------------
# read_biosses
# ------------------------------------------------------------------------------------------------


class TestBiosses:
    def test_good(self, tmp_path):
        path = write(tmp_path, "biosses.tsv", [
            BIOSSES_HEADER, "78\tHere, KRAS.\tGATA2 knockdown.\t2.2", "1\ta\tb\t0", "2\tc\td\t4", "3\te\tf\t4.0",
        ])
        got = list(read_biosses(path))
        assert got[0] == PairInstance("78", "Here, KRAS.", "GATA2 knockdown.", 2.2)
        assert [p.label for p in got] == [2.2, 0.0, 4.0, 4.0]
        assert all(isinstance(p.label, float) for p in got)

    def test_missing_header(self, tmp_path):
        path = write(tmp_path, "biosses.tsv", ["1\ta\tb\t2.0"])
        with pytest.raises(DataFormatError) as excinfo:
            list(read_biosses(path))
        assert_format_error(excinfo, path, 1)

    @pytest.mark.parametrize(
        ("score", "fragment"),
        [
            ("high", "not a number"),
            ("", "not a number"),
            ("2,5", "not a number"),
            ("4.5", "outside"),
            ("-0.1", "outside"),
            ("4.0001", "outside"),
            ("nan", "outside"),
            ("inf", "outside"),
        ],
    )
    def test_bad_score(self, tmp_path, score, fragment):
        path = write(tmp_path, "biosses.tsv", [BIOSSES_HEADER, "1\ta\tb\t1.0", "", f"2\ta\tb\t{score}"])
        with pytest.raises(DataFormatError) as excinfo:
            list(read_biosses(path))
        assert_format_error(excinfo, path, 4)
        assert fragment in str(excinfo.value)

    @pytest.mark.parametrize("bad_line", ["2\ta\t1.0", "2\ta\tb\tc\t1.0"])
    def test_wrong_column_count(self, tmp_path, bad_line):
        path = write(tmp_path, "biosses.tsv", [BIOSSES_HEADER, bad_line])
        with pytest.raises(DataFormatError) as excinfo:
            list(read_biosses(path))
        assert_format_error(excinfo, path, 2)


# ------------------------------------------------------------------------------------------------
# read_hoc
# ------------------------------------------------------------------------------------------------


class TestHoc:
    def test_groups_sentences_into_abstracts(self, tmp_path):
        path = write(tmp_path, "hoc.tsv", [
            HOC_HEADER,
            f"{hoc_labels()}\tHypoxic events occur .\t22239943_s0",
            f"{hoc_labels(0, 8)}\tTS and Ki67 higher .\t22239943_s1",
            f"{hoc_labels(8, 3)}\tThird sentence .\t22239943_s2",
            f"{hoc_labels()}\tNothing here .\t11896073_s0",
            f"{hoc_labels()}\tStill nothing .\t11896073_s1",
            f"{hoc_labels(9)}\tInflammation .\t5_s0",
        ])
        docs = read_hoc(path)
        assert [d.id for d in docs] == ["22239943", "11896073", "5"]  # file order
        first = docs[0]
        assert isinstance(first, DocumentInstance)
        assert first.sentences == ["Hypoxic events occur .", "TS and Ki67 higher .", "Third sentence ."]
        assert first.sentence_labels == [frozenset(), frozenset({"0", "8"}), frozenset({"3", "8"})]
        assert first.labels == frozenset({"0", "3", "8"})  # union of the sentences
        assert docs[1].labels == frozenset()
        assert docs[1].sentence_labels == [frozenset(), frozenset()]
        assert docs[2].labels == frozenset({"9"})

    def test_pmid_containing_underscore_s(self, tmp_path):
        """Only the last ``_s`` separates the sentence number."""
        path = write(tmp_path, "hoc.tsv", [HOC_HEADER, f"{hoc_labels(1)}\ts\tab_s12_s3"])
        assert read_hoc(path)[0].id == "ab_s12"

    def test_crlf_and_blank_lines(self, tmp_path):
        path = write(tmp_path, "hoc.tsv", [HOC_HEADER, f"{hoc_labels(2)}\ta\t1_s0", "", f"{hoc_labels(4)}\tb\t1_s1"],
                     newline="\r\n")
        docs = read_hoc(path)
        assert len(docs) == 1
        assert docs[0].labels == frozenset({"2", "4"})
        assert docs[0].sentences == ["a", "b"]

    def test_n_classes(self, tmp_path):
        path = write(tmp_path, "hoc.tsv", [HOC_HEADER, f"{hoc_labels(1, n=3)}\ts\t1_s0"])
        assert read_hoc(path, n_classes=3)[0].labels == frozenset({"1"})
        with pytest.raises(DataFormatError) as excinfo:
            read_hoc(path)  # default 10 classes
        assert_format_error(excinfo, path, 2)

    @pytest.mark.parametrize(
        "bad_line",
        [
            f"{hoc_labels()}\ts\t22239943",  # no _s
            f"{hoc_labels()}\ts\t_s0",  # empty PMID
            f"{hoc_labels()}\ts\t22239943-s0",
            f"{hoc_labels()[:-4]}\ts\t1_s0",  # 9 label items
            f"{hoc_labels()},10_0\ts\t1_s0",  # 11 label items
            f"{hoc_labels().replace('3_0', '3_2')}\ts\t1_s0",
            f"{hoc_labels().replace('3_0', 'x_1')}\ts\t1_s0",
            f"{hoc_labels().replace('3_0', '3')}\ts\t1_s0",
            f"{hoc_labels().replace('3_0', '3_')}\ts\t1_s0",
            f"{hoc_labels().replace('3_0', '_1')}\ts\t1_s0",
            f"{hoc_labels().replace('3_0', '3-1')}\ts\t1_s0",
            f"{hoc_labels().replace(',', ';')}\ts\t1_s0",
            f"{hoc_labels()}\ts",  # two columns
            f"{hoc_labels()}\ts\t1_s0\textra",  # four columns
        ],
    )
    def test_bad_line(self, tmp_path, bad_line):
        path = write(tmp_path, "hoc.tsv", [HOC_HEADER, f"{hoc_labels(1)}\tok\t9_s0", "", bad_line])
        with pytest.raises(DataFormatError) as excinfo:
            read_hoc(path)
        assert_format_error(excinfo, path, 4)

    def test_missing_header(self, tmp_path):
        path = write(tmp_path, "hoc.tsv", [f"{hoc_labels(1)}\tok\t9_s0"])
        with pytest.raises(DataFormatError) as excinfo:
            read_hoc(path)
        assert_format_error(excinfo, path, 1)

    @pytest.mark.parametrize(
        "labels",
        [
            hoc_labels().replace("9_0", "10_1"),  # class 10 does not exist
            "0_1," * 9 + "0_1",  # ten copies of class 0, classes 1..9 missing
        ],
        ids=["class-out-of-range", "duplicate-class"],
    )
    def test_bad_class_index(self, tmp_path, labels):
        path = write(tmp_path, "hoc.tsv", [HOC_HEADER, f"{labels}\ts\t1_s0"])
        with pytest.raises(DataFormatError) as excinfo:
            read_hoc(path)
        assert_format_error(excinfo, path, 2)

    @pytest.mark.parametrize("index", ["1_sabc", "1_s"])
    def test_bad_sentence_number(self, tmp_path, index):
        path = write(tmp_path, "hoc.tsv", [HOC_HEADER, f"{hoc_labels()}\ts\t{index}"])
        with pytest.raises(DataFormatError) as excinfo:
            read_hoc(path)
        assert_format_error(excinfo, path, 2)


# ------------------------------------------------------------------------------------------------
# read_bioasq
# ------------------------------------------------------------------------------------------------


class TestBioasq:
    def test_good(self, tmp_path):
        path = write(tmp_path, "bioasq.tsv", [
            "54e25eaaae9738404b000017\tIs the protein Papilin secreted?\tUsing expression analysis, ...\tyes",
            "535d292a9a4572de6f000003\tAre long non coding RNAs spliced?\tOur analyses ...\tno",
        ], newline="\r\n")
        assert list(read_bioasq(path, YES_NO)) == [
            PairInstance("54e25eaaae9738404b000017", "Is the protein Papilin secreted?",
                         "Using expression analysis, ...", "yes"),
            PairInstance("535d292a9a4572de6f000003", "Are long non coding RNAs spliced?", "Our analyses ...", "no"),
        ]

    @pytest.mark.parametrize(
        "bad_line",
        ["q3\tquestion?\tpassage\tmaybe", "q3\tquestion?\tpassage\tYes", "q3\tquestion?\tyes", "q3\tq\tp\tyes\textra"],
    )
    def test_bad_line(self, tmp_path, bad_line):
        path = write(tmp_path, "bioasq.tsv", ["q1\tq\tp\tyes", "", "q2\tq\tp\tno", bad_line])
        with pytest.raises(DataFormatError) as excinfo:
            list(read_bioasq(path, YES_NO))
        assert_format_error(excinfo, path, 4)


# ------------------------------------------------------------------------------------------------
# read_pubmedqa
# ------------------------------------------------------------------------------------------------


def _pqa(question="Is X useful?", contexts=("First context.", "Second context."), decision="yes", **extra):
    item = {"QUESTION": question, "CONTEXTS": list(contexts), "LABELS": ["A", "B"], "MESHES": [],
            "YEAR": "2005", "final_decision": decision, "LONG_ANSWER": "Yes."}
    item.update(extra)
    return item


class TestPubmedqa:
    def test_good(self, tmp_path):
        data = {"15879722": _pqa(), "123": _pqa("Q2?", ["only"], "maybe"), "456": _pqa("Q3?", [], "no")}
        path = write(tmp_path, "dev_set.json", json.dumps(data, indent=2))
        assert read_pubmedqa(path, YES_NO_MAYBE) == [
            PairInstance("15879722", "Is X useful?", "First context. Second context.", "yes"),
            PairInstance("123", "Q2?", "only", "maybe"),
            PairInstance("456", "Q3?", "", "no"),
        ]

    def test_crlf(self, tmp_path):
        text = json.dumps({"1": _pqa()}, indent=1).replace("\n", "\r\n")
        path = write(tmp_path, "dev_set.json", text)
        assert read_pubmedqa(path, YES_NO_MAYBE) == [
            PairInstance("1", "Is X useful?", "First context. Second context.", "yes")
        ]

    def test_empty_object(self, tmp_path):
        assert read_pubmedqa(write(tmp_path, "x.json", "{}"), YES_NO_MAYBE) == []

    @pytest.mark.parametrize(
        ("text", "line"),
        [
            ('{\n  "1": {\n    "QUESTION": "q",,\n  }\n}\n', 3),  # stray comma on line 3
            ('{\n  "1": {"QUESTION": "q", "CONTEXTS": [], "final_decision": "yes"}\n\n\n', 5),  # truncated
            ("", 1),
            ('{"1": {"QUESTION": \'q\'}}', 1),
        ],
    )
    def test_invalid_json(self, tmp_path, text, line):
        path = write(tmp_path, "train_set.json", text)
        with pytest.raises(DataFormatError) as excinfo:
            read_pubmedqa(path, YES_NO_MAYBE)
        assert_format_error(excinfo, path, line)
        assert "invalid JSON" in str(excinfo.value)

    def test_invalid_json_line_with_crlf(self, tmp_path):
        path = write(tmp_path, "train_set.json", '{\r\n"1": {\r\n"QUESTION": "q"\r\n"CONTEXTS": []}}\r\n')
        with pytest.raises(DataFormatError) as excinfo:
            read_pubmedqa(path, YES_NO_MAYBE)
        assert_format_error(excinfo, path, 4)

    @pytest.mark.parametrize("field", ["QUESTION", "CONTEXTS", "final_decision"])
    def test_missing_field(self, tmp_path, field):
        bad = _pqa()
        del bad[field]
        path = write(tmp_path, "test_set.json", json.dumps({"1": _pqa(), "777": bad}, indent=2))
        with pytest.raises(DataFormatError) as excinfo:
            read_pubmedqa(path, YES_NO_MAYBE)
        assert_format_error(excinfo, path, None)
        message = str(excinfo.value)
        assert field in message
        assert "777" in message

    @pytest.mark.parametrize("item", ["just a string", ["a", "list"], 5, None])
    def test_instance_not_an_object(self, tmp_path, item):
        path = write(tmp_path, "test_set.json", json.dumps({"1": _pqa(), "777": item}))
        with pytest.raises(DataFormatError) as excinfo:
            read_pubmedqa(path, YES_NO_MAYBE)
        assert_format_error(excinfo, path, None)
        assert "777" in str(excinfo.value)

    @pytest.mark.parametrize("decision", ["Yes", "unknown", "", 1, None])
    def test_unknown_decision(self, tmp_path, decision):
        path = write(tmp_path, "test_set.json", json.dumps({"1": _pqa(), "777": _pqa(decision=decision)}))
        with pytest.raises(DataFormatError) as excinfo:
            read_pubmedqa(path, YES_NO_MAYBE)
        assert_format_error(excinfo, path, None)
        assert "777" in str(excinfo.value)

    @pytest.mark.parametrize("top", ["[]", '["1", "2"]', '"text"', "42", "null"])
    def test_top_level_not_an_object(self, tmp_path, top):
        path = write(tmp_path, "test_set.json", top)
        with pytest.raises(DataFormatError) as excinfo:
            read_pubmedqa(path, YES_NO_MAYBE)
        assert_format_error(excinfo, path, None)

    @pytest.mark.parametrize(
        "item",
        [
            _pqa(decision=["yes"]),  # unhashable -> TypeError from `label not in labels`
            _pqa(decision={"yes": 1}),
            _pqa() | {"CONTEXTS": 5},  # TypeError from " ".join
            _pqa(contexts=[1, 2]),  # TypeError from " ".join
            _pqa() | {"CONTEXTS": "abc"},  # silently becomes "a b c"
            _pqa(question=["q"]),  # silently accepted as a non-str question
        ],
        ids=["decision-list", "decision-dict", "contexts-int", "contexts-ints", "contexts-str", "question-list"],
    )
    def test_wrongly_typed_field(self, tmp_path, item):
        path = write(tmp_path, "test_set.json", json.dumps({"777": item}))
        with pytest.raises(DataFormatError) as excinfo:
            read_pubmedqa(path, YES_NO_MAYBE)
        assert_format_error(excinfo, path, None)
