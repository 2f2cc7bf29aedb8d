"""``biomedserve annotate`` through typer: help with examples, summary, clear refusal to resume."""

from typer.testing import CliRunner

from biomedserve.cli import app

runner = CliRunner()


def test_help_teaches_with_examples():
    result = runner.invoke(app, ["annotate", "--help"], terminal_width=120)
    assert result.exit_code == 0
    for text in ("Examples", "--engine ray", "pubtator", "RAY_ADDRESS", "--overwrite"):
        assert text in result.output


def test_annotate_summary_and_refusal(corpus, tiny_model, tmp_path):
    out = tmp_path / "out.jsonl"
    common = [str(corpus), "-m", str(tiny_model), "-o", str(out), "--group-size", "4", "--no-progress"]
    result = runner.invoke(app, ["annotate", *common], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "documents written" in result.output and "entities: CHEMICAL" in result.output
    assert "errors (skipped records)" in result.output and "skipped: " in result.output
    result = runner.invoke(app, ["annotate", *common, "--format", "bioc"], terminal_width=200)
    assert result.exit_code == 2
    assert "different command" in result.output and "format jsonl → bioc" in result.output
    result = runner.invoke(app, ["annotate", *common], terminal_width=200)
    assert result.exit_code == 0 and "already complete" in result.output
    note = corpus / "notes" / "e_note.txt"
    note.write_bytes(note.read_bytes().replace(b"Aspirin", b"Heparin"))  # same size, other content
    result = runner.invoke(app, ["annotate", *common], terminal_width=400)
    assert result.exit_code == 2 and "already complete" not in result.output
    assert "changed since" in result.output and "e_note.txt (same size" in result.output


def test_annotate_follows_a_guideline_and_resolves_abbreviations_over_the_document(tiny_multicorpus_model, tmp_path):
    import json
    import shutil

    from biomedserve.export.card_defaults import set_abbreviation_resolution

    model = tmp_path / "model"
    shutil.copytree(tiny_multicorpus_model, model)
    set_abbreviation_resolution(model, True)
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "1", "title": "The androgen receptor (AR) in prostate cancer",
                                "abstract": "AR binds IL-2 and p53 in Escherichia coli. AR levels rose."}) + "\n")
    out = tmp_path / "out.jsonl"
    common = [str(docs), "-m", str(model), "-o", str(out), "--no-progress"]
    result = runner.invoke(app, ["annotate", *common, "--guideline", "BioNLP"], terminal_width=200)
    assert result.exit_code == 0, result.output
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    for e in record["entities"]:
        assert record["text"][e["start"]:e["end"]] == e["text"]
        assert e.get("guideline") == ("BioNLP" if e["type"] == "GENE" else None)
    # every AR of the document has one type (or none), whichever the long form's is
    assert len({e["type"] for e in record["entities"] if e["text"] == "AR"}) <= 1
    assert all(e.get("abbreviation_of") == "androgen receptor" for e in record["entities"] if e["text"] == "AR")
    assert "+guideline:BioNLP+abbreviations" in record["models"][0]["version"]
    result = runner.invoke(app, ["annotate", *common, "--guideline", "GENIA", "--overwrite"], terminal_width=200)
    assert result.exit_code == 2 and "no model given knows it" in result.output
