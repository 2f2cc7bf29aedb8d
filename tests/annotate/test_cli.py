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
