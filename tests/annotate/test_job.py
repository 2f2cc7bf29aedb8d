"""The job end to end on the tiny model: formats, errors file, deletions, resume after crashes at
every stage (identical bytes), refusals, and document classification models."""

import json

import pytest

from biomedserve.annotate import ResumeError, annotate
from biomedserve.annotate import job as job_module
from biomedserve.data.document_readers import resolve_inputs
from tests.pubmed_samples import DELETE, article, pubmed_xml, write

from .test_writers import parse_pubtator

RUN = {"group_size": 4, "chunk_size": 10, "progress": False}
SENTENCES_WITH_CHEMICALS = "Naloxone reversed the effect of clonidine; cisplatin and lithium carbonate were given."


class Crash(Exception):
    """Stands in for a kill: raised at a chosen point, leaving the files as a kill would."""


def run(corpus, model, out, **options):
    return annotate([str(corpus)], [str(model)], out, **{**RUN, **options})


@pytest.fixture
def reference(corpus, tiny_model, tmp_path):
    """An uninterrupted run's output and errors file."""
    out = tmp_path / "ref" / "out.jsonl"
    summary = run(corpus, tiny_model, out)
    return summary, out.read_bytes(), (tmp_path / "ref" / "out.jsonl.errors.jsonl").read_bytes()


def test_jsonl_records_errors_and_summary(reference, tiny_model):
    summary, data, errors = reference
    records = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    ids = [r["id"] for r in records]
    # 33 + 12 + book - 1003 (deleted later, by b_update.xml.gz) + 4 before the truncation + 8 JSONL + t1 + the note
    assert len(records) == summary.documents == 32 + 13 + 4 + 9 + 1
    assert "1003" not in ids and summary.deleted == 1
    assert ids[:3] == ["1001", "1002", "2000"] and ids[-1] == "e_note"
    entities = 0
    for record in records:
        for e in record["entities"]:
            assert record["text"][e["start"]:e["end"]] == e["text"]
            assert e["model"] == tiny_model.name and e["type"] == "CHEMICAL"
            entities += 1
        assert record["models"][0]["name"] == tiny_model.name
        assert record["models"][0]["version"].startswith("fp32-")
    assert entities > 0 and summary.entities == {"CHEMICAL": entities}
    structured = records[0]
    assert [p.get("label") for p in structured["passages"]] == [None, "BACKGROUND", "METHODS"]
    assert structured["dates"]["completed"] == "2020-01-05"
    logged = [json.loads(line) for line in errors.decode().splitlines()]
    assert summary.errors == len(logged) == 3
    assert [(e["source"].rsplit("/", 1)[1], e["location"]) for e in logged[:2]] == [
        ("b_update.xml.gz", "PubmedArticle 5 (line 8)"), ("c_truncated.xml", "line 8, column 33")]
    assert "the 4 records before it were kept" in logged[1]["reason"]
    assert logged[2]["location"] == "line 4" and logged[2]["reason"].startswith("invalid JSON")


@pytest.mark.parametrize("fmt", ["pubtator", "bioc", "bioc-json"])
def test_other_formats_index_their_text(corpus, tiny_model, tmp_path, reference, fmt):
    out = tmp_path / f"out.{fmt}"
    run(corpus, tiny_model, out, format=fmt)
    records = [json.loads(line) for line in reference[1].decode().splitlines()]
    if fmt == "pubtator":
        docs = parse_pubtator(out.read_text(encoding="utf-8"))
        assert len(docs) == len(records)
        for doc, record in zip(docs, records):
            full = doc["title"] + (" " + doc["abstract"] if doc["abstract"] else "")
            assert len(full) == len(record["text"]) and len(doc["annotations"]) == len(record["entities"])
            for _, start, end, mention, _ in doc["annotations"]:
                assert full[int(start):int(end)] == mention
    else:
        from bioc import biocjson, biocxml

        loader = biocxml if fmt == "bioc" else biocjson
        collection = loader.loads(out.read_text(encoding="utf-8"))
        assert [d.id for d in collection.documents] == [r["id"] for r in records]
        for document, record in zip(collection.documents, records):
            for passage in document.passages:
                for ann in passage.annotations:
                    assert record["text"][ann.locations[0].offset:ann.locations[0].end] == ann.text


def test_gzip_output_is_deterministic(corpus, tiny_model, tmp_path, reference):
    import gzip

    first, second = tmp_path / "1" / "out.jsonl.gz", tmp_path / "2" / "out.jsonl.gz"
    run(corpus, tiny_model, first)
    run(corpus, tiny_model, second)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[4:8] == b"\0\0\0\0"  # gzip mtime pinned, not just equal within a second
    assert gzip.decompress(first.read_bytes()) == reference[1]


def crash_before_writing(monkeypatch, name: str):
    """Raise Crash when the job is about to write the file ``name`` (atomically): a kill there."""
    original = job_module.atomic_write

    def wrapped(path, data):
        if path.name == name:
            raise Crash(f"before writing {name}")
        return original(path, data)

    monkeypatch.setattr(job_module, "atomic_write", wrapped)


@pytest.mark.parametrize("name", [
    "chunk-000001.errors.jsonl",  # chunk 1's records written, its errors not, no marker: chunk 1 is redone
    "chunk-000001.done.json",     # chunk 1 written in full but not committed
    "chunk-000003.jsonl",         # three chunks committed
    "complete.json",              # every chunk committed, OUT not yet rendered
    "finished.json",              # OUT rendered, the job not marked finished
])
def test_resume_after_a_crash_is_identical(corpus, tiny_model, tmp_path, monkeypatch, reference, name):
    out = tmp_path / "out.jsonl"
    with monkeypatch.context() as patch:
        crash_before_writing(patch, name)
        with pytest.raises(Crash):
            run(corpus, tiny_model, out)
    assert out.exists() == (name == "finished.json")
    summary = run(corpus, tiny_model, out)
    assert out.read_bytes() == reference[1]
    assert (tmp_path / "out.jsonl.errors.jsonl").read_bytes() == reference[2]
    assert summary.documents == reference[0].documents and summary.entities == reference[0].entities
    again = run(corpus, tiny_model, out)  # a finished job is not redone
    assert again.already_complete and again.documents == summary.documents and out.read_bytes() == reference[1]
    assert not list((tmp_path / "out.jsonl.parts").glob("chunk-*.jsonl"))  # chunk copies removed once OUT is written


def test_crash_during_render_keeps_no_partial_output(corpus, tiny_model, tmp_path, monkeypatch, reference):
    out = tmp_path / "out.jsonl"

    class Exploding:
        def __init__(self, *args):
            self.n = 0

        def write(self, record, line):
            self.n += 1
            if self.n == 20:
                raise Crash("render")

        def close(self):
            pass

    with monkeypatch.context() as patch:
        patch.setattr(job_module, "open_writer", lambda *args: Exploding())
        with pytest.raises(Crash):
            run(corpus, tiny_model, out)
    assert not out.exists() and (tmp_path / "out.jsonl.partial").exists()
    run(corpus, tiny_model, out)
    assert out.read_bytes() == reference[1]


def test_refuses_to_resume_another_command_and_overwrite_starts_afresh(corpus, tiny_model, tmp_path, monkeypatch,
                                                                       reference):
    out = tmp_path / "out.jsonl"
    with monkeypatch.context() as patch:
        crash_before_writing(patch, "chunk-000002.jsonl")
        with pytest.raises(Crash):
            run(corpus, tiny_model, out)
    with pytest.raises(ResumeError, match="format jsonl → pubtator"):
        run(corpus, tiny_model, out, format="pubtator")
    with pytest.raises(ResumeError, match="group size 4 → 8"):
        run(corpus, tiny_model, out, group_size=8)
    with pytest.raises(ResumeError, match="inputs"):
        annotate([str(corpus / "a_baseline.xml")], [str(tiny_model)], out, **RUN)
    summary = run(corpus, tiny_model, out, format="pubtator", overwrite=True)
    assert summary.resumed_from_chunk == 0 and out.read_text().startswith("1001|t|")


def test_existing_output_without_a_manifest_is_not_overwritten(corpus, tiny_model, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n")
    with pytest.raises(ResumeError, match="--overwrite"):
        run(corpus, tiny_model, out)
    assert out.read_text() == "precious\n"


def test_deletions_apply_to_earlier_files_only(tiny_model, tmp_path):
    root = tmp_path / "in"
    write(root / "1.xml", pubmed_xml(article(1, "One."), article(1003, "Deleted later."), article(77, "Also.")))
    write(root / "2.xml", pubmed_xml(DELETE, article(77, "Re-added after its deletion.")))
    out = tmp_path / "out.jsonl"
    summary = annotate([str(root)], [str(tiny_model)], out, **RUN)
    texts = [json.loads(line)["text"] for line in out.read_text().splitlines()]
    assert texts == ["One.", "Re-added after its deletion."] and summary.deleted == 2


def test_ner_and_document_classification_models_together(tiny_model, tiny_task_model, tmp_path):
    hoc_model, _ = tiny_task_model("HoC")
    root = tmp_path / "in"
    write(root / "1.xml", pubmed_xml(*[article(i, "Cisplatin kills tumour cells.", "Apoptosis was induced. Rats.")
                                       for i in range(1, 4)]))
    out = tmp_path / "out.xml"
    # HoC first on the command line: NER models still run first and the record lists them first
    annotate([str(root)], [str(hoc_model), str(tiny_model)], out, **RUN, allow_collapsed=True)  # a few steps: HoC sits on its floor
    from bioc import biocxml

    collection = biocxml.loads(out.read_text())
    assert collection.infons["models"].split("; ")[0].startswith(tiny_model.name)
    jsonl = tmp_path / "out.jsonl"
    annotate([str(root)], [str(hoc_model), str(tiny_model)], jsonl, **RUN, allow_collapsed=True)
    record = json.loads(jsonl.read_text().splitlines()[0])
    [result] = record["classifications"]
    assert result["model"] == hoc_model.name and len(result["probabilities"]) == 10  # the ten hallmarks
    assert set(result["labels"]) <= set(result["probabilities"])
    assert [m["name"] for m in record["models"]] == [tiny_model.name, hoc_model.name]


MIXED = ("Cisplatin-induced nephrotoxicity was reduced by naloxone in rats with hypertension. Patients receiving "
         "doxorubicin or 5-fluorouracil developed hypotension and cardiomyopathy.")


def _overlapping(entities: list[dict]) -> bool:
    return any(a["start"] < b["end"] and b["start"] < a["end"] for i, a in enumerate(entities) for b in entities[i + 1:])


def test_every_type_of_every_model_is_written_overlaps_included(tiny_model, tiny_two_type_model, tmp_path):
    from biomedserve.annotate.writers import PUBTATOR_TYPES

    root = tmp_path / "in"
    write(root / "1.xml", pubmed_xml(*[article(i, "Lithium and haloperidol overdose caused seizures.", MIXED)
                                       for i in range(1, 4)]))
    models = [str(tiny_model), str(tiny_two_type_model)]
    annotate([str(root)], models, tmp_path / "out.jsonl", **RUN)
    annotate([str(root)], models, tmp_path / "out.pubtator", **RUN)
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    found = [(e["start"], e["end"], e["type"], e["model"]) for r in records for e in r["entities"]]
    assert {(t, m) for _, _, t, m in found} == {("CHEMICAL", tiny_model.name), ("CHEMICAL", tiny_two_type_model.name),
                                                ("DISEASE", tiny_two_type_model.name)}
    assert any(_overlapping(r["entities"]) for r in records)  # here two models' chemicals: both kept
    docs = parse_pubtator((tmp_path / "out.pubtator").read_text(encoding="utf-8"))
    for doc, record in zip(docs, records, strict=True):
        assert [(int(a[1]), int(a[2]), a[4]) for a in doc["annotations"]] == \
               [(e["start"], e["end"], PUBTATOR_TYPES[e["type"]]) for e in record["entities"]]


def test_unknown_inputs_and_models_are_clear_errors(corpus, tiny_model, tiny_task_model, tmp_path):
    from biomedserve.errors import BiomedserveError

    with pytest.raises(BiomedserveError, match="no such file"):
        annotate([str(tmp_path / "nope.xml")], [str(tiny_model)], tmp_path / "o.jsonl", **RUN)
    relation_model, _ = tiny_task_model("GAD")
    with pytest.raises(BiomedserveError, match="'relation' model"):
        annotate([str(corpus)], [str(relation_model)], tmp_path / "o.jsonl", **RUN)
    assert resolve_inputs([str(corpus)])  # the corpus itself is fine


# ---------------------------------------------------------------- inputs known by content
def edit_keeping_size(path, old: bytes, new: bytes) -> None:
    """Change ``path`` in place without changing its size (what a size check cannot see)."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))
    assert len(path.read_bytes()) == len(data)


def test_a_finished_job_refuses_an_input_edited_in_place(corpus, tiny_model, tmp_path):
    out = tmp_path / "out.jsonl"
    run(corpus, tiny_model, out)
    finished = out.read_bytes()
    edit_keeping_size(corpus / "a_baseline.xml", b"lowers blood pressure", b"raises blood pressure")
    with pytest.raises(ResumeError, match=r"a_baseline\.xml \(same size, sha256") as refusal:
        run(corpus, tiny_model, out)
    assert "--overwrite" in str(refusal.value) and "already complete" not in str(refusal.value)
    assert out.read_bytes() == finished  # refused, nothing lost
    run(corpus, tiny_model, out, overwrite=True)
    assert b"raises blood pressure" in out.read_bytes() and b"lowers blood pressure" not in out.read_bytes()


def test_an_interrupted_job_refuses_an_input_edited_in_place(corpus, tiny_model, tmp_path, monkeypatch):
    out = tmp_path / "out.jsonl"
    with monkeypatch.context() as patch:
        crash_before_writing(patch, "chunk-000002.jsonl")  # chunks 0 and 1 (from a_baseline.xml) committed
        with pytest.raises(Crash):
            run(corpus, tiny_model, out)
    parts = tmp_path / "out.jsonl.parts"
    committed = sorted(p.name for p in parts.iterdir())
    # an edit in the part already read, and one in a file not reached yet: both refused, by name
    edit_keeping_size(corpus / "a_baseline.xml", b"Naloxone reverses", b"Naloxone reversed")
    edit_keeping_size(corpus / "d_more.jsonl", b'"j0"', b'"k0"')
    with pytest.raises(ResumeError) as refusal:
        run(corpus, tiny_model, out)
    message = str(refusal.value)
    assert "a_baseline.xml (same size" in message and "d_more.jsonl (same size" in message
    assert "b_update.xml.gz" not in message
    assert sorted(p.name for p in parts.iterdir()) == committed  # the committed chunks are kept
    summary = run(corpus, tiny_model, out, overwrite=True)
    assert summary.resumed_from_chunk == 0 and b"Naloxone reversed" in out.read_bytes()


def test_a_job_begun_before_hashes_were_recorded_still_resumes(corpus, tiny_model, tmp_path, monkeypatch, reference):
    """A manifest without sha256 (written by an earlier biomedserve) is resumed on path and size."""
    out = tmp_path / "out.jsonl"
    with monkeypatch.context() as patch:
        crash_before_writing(patch, "chunk-000002.jsonl")
        with pytest.raises(Crash):
            run(corpus, tiny_model, out)
    manifest_path = tmp_path / "out.jsonl.parts" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for entry in manifest["identity"]["inputs"]:
        del entry["sha256"]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    summary = run(corpus, tiny_model, out)
    assert summary.resumed_from_chunk == 2 and out.read_bytes() == reference[1]


# ---------------------------------------------------------------- every format, read by the standard library
UNICODE_TITLES = ["β-carotene and naloxone in rats.", "Méthotrexate et cisplatine: étude «in vivo».",
                  "Lithium 日本語 clonidine — ±5 µg."]


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("fmt", ["jsonl", "pubtator", "bioc", "bioc-json"])
def test_every_format_parses_with_the_standard_library(tiny_model, tmp_path, fmt, suffix):
    import gzip
    import xml.etree.ElementTree as ET

    root = tmp_path / "in"
    write(root / "1.xml", pubmed_xml(*[article(10 + i, title, SENTENCES_WITH_CHEMICALS)
                                       for i, title in enumerate(UNICODE_TITLES)]))
    write(root / "2.jsonl", json.dumps({"id": "j1", "text": "Méthotrexate and β-carotene."}, ensure_ascii=False) + "\n")
    out = tmp_path / f"out.{fmt}{suffix}"
    summary = annotate([str(root)], [str(tiny_model)], out, format=fmt, **RUN)
    assert summary.documents == 4
    handle = gzip.open(out, "rb") if suffix else open(out, "rb")
    with handle:
        if fmt == "bioc":
            collection = ET.parse(handle).getroot()  # expat reads the declared encoding
            documents = [(d.findtext("id"), d.findall("passage")) for d in collection.iter("document")]
            texts = {}
            for doc_id, passages in documents:
                texts[doc_id] = " ".join(p.findtext("text") or "" for p in passages)
                for passage in passages:
                    offset, text = int(passage.findtext("offset")), passage.findtext("text") or ""
                    for annotation in passage.iter("annotation"):
                        location = annotation.find("location")
                        start = int(location.get("offset")) - offset
                        assert text[start:start + int(location.get("length"))] == annotation.findtext("text")
        elif fmt == "bioc-json":
            collection = json.load(handle)
            texts = {d["id"]: " ".join(p["text"] for p in d["passages"]) for d in collection["documents"]}
        elif fmt == "jsonl":
            texts = {r["id"]: r["text"] for r in map(json.loads, handle.read().decode("utf-8").splitlines())}
        else:
            docs = parse_pubtator(handle.read().decode("utf-8"))
            texts = {d["id"]: d["title"] + " " + d["abstract"] for d in docs}
    assert list(texts) == ["10", "11", "12", "j1"]
    assert texts["10"].startswith("β-carotene") and texts["11"].startswith("Méthotrexate et cisplatine")
    assert "日本語" in texts["12"] and texts["j1"].startswith("Méthotrexate and β-carotene.")


# ---------------------------------------------------------------- the progress bar
def test_progress_bar_counts_the_entities_found_so_far(tiny_model, tmp_path, capsys):
    """The bar's postfix ends at the run's entity count, chunks committed or not."""
    import re

    root = tmp_path / "in"
    write(root / "1.xml", pubmed_xml(*[article(100 + i, title, SENTENCES_WITH_CHEMICALS)
                                       for i, title in enumerate(UNICODE_TITLES * 5)]))
    capsys.readouterr()
    summary = annotate([str(root)], [str(tiny_model)], tmp_path / "out.jsonl", **{**RUN, "progress": True})
    found = sum(summary.entities.values())
    assert found > 0 and summary.deleted == 0 and summary.documents == 15  # one full chunk and a partial one
    shown = re.findall(r"entities=(\d+), errors=(\d+)", capsys.readouterr().err)
    assert shown and shown[-1] == (str(found), "0")
