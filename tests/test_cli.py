"""The console script, run as users run it: real process for stats, CliRunner for the rest."""

import json
import subprocess
import sys

from typer.testing import CliRunner

from biomedserve.cli import app

runner = CliRunner()


def test_data_stats_json_is_one_object():
    result = subprocess.run([sys.executable, "-m", "biomedserve.cli", "data", "stats", "--json",
                             "-d", "BC5-chem", "-d", "GAD"], capture_output=True, text=True, check=True)
    stats = json.loads(result.stdout)
    assert stats["BC5-chem"]["test"] == {"sentences": 4797, "tokens": 124750, "mentions": 5385}
    assert stats["GAD"]["dev"]["instances"] == 535


def test_data_stats_missing_dir_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["data", "stats", "--data-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_evaluate_json_last_line(tiny_model):
    result = runner.invoke(app, ["evaluate", str(tiny_model), "--split", "dev", "--limit", "50", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["model"] == tiny_model.name and summary["dataset"] == "BC5-chem"
    assert summary["split"] == "dev" and summary["backend"] == "onnx" and summary["metric"] == "f1"
    assert 0 <= summary["score"] <= 100


def test_predict_prints_entities(tiny_model):
    text = "Naloxone reversed the effect of clonidine."
    result = runner.invoke(app, ["predict", str(tiny_model), text])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["text"] == text
    for e in record["entities"]:
        assert text[e["start"]:e["end"]] == e["text"]


def test_predict_on_corrupt_model_fails_cleanly(tmp_path):
    result = runner.invoke(app, ["predict", str(tmp_path), "text"])
    assert result.exit_code == 2
    assert "biomedserve.json is missing" in result.output


def test_train_refuses_unknown_dataset(tmp_path):
    result = runner.invoke(app, ["train", "--dataset", "NOPE", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "NOPE" in result.output


def test_sweep_runs_seeds_and_reports_statistics(tiny_base, tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(f"dataset: BIOSSES\nbase_model: {tiny_base}\nmax_steps: 2\nbatch_size: 16\nmax_length: 32\n")
    args = ["sweep", "-d", "BIOSSES", "-r", str(recipe), "--seeds", "1-2", "--results", str(tmp_path / "runs")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "catastrophic" in result.stdout
    files = sorted((tmp_path / "runs" / "BIOSSES").glob("*.json"))
    assert len(files) == 2
    stamps = [f.stat().st_mtime_ns for f in files]
    again = runner.invoke(app, args)  # resumed: nothing retrained, files untouched
    assert again.exit_code == 0 and [f.stat().st_mtime_ns for f in files] == stamps


def test_serve_refuses_a_corrupt_model_before_starting(tmp_path):
    bad = tmp_path / "broken-model"
    bad.mkdir()
    (bad / "biomedserve.json").write_text("{oops")
    result = runner.invoke(app, ["serve", "--models", str(bad)])
    assert result.exit_code == 2
    assert "biomedserve.json is corrupt" in result.output
    missing = runner.invoke(app, ["serve", "--models", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_baseline_trains_a_spacy_pipeline(tmp_path):
    result = runner.invoke(app, ["baseline", "-d", "BC5-chem", "--out", str(tmp_path / "b"), "--max-steps", "10",
                                 "--limit", "40"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b" / "model-best" / "meta.json").is_file()
    refused = runner.invoke(app, ["baseline", "-d", "GAD", "--out", str(tmp_path / "g")])
    assert refused.exit_code == 2 and "not an NER dataset" in refused.output


def _all_commands():
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        yield [name]
        for sub in getattr(command, "commands", {}):
            yield [name, sub]


def test_help_shows_no_rst_backticks():
    for path in [[], *_all_commands()]:
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, (path, result.output)
        assert "``" not in result.output, (path, result.output)


def test_user_text_in_errors_is_printed_literally():
    for pattern in ("nomatch/[ab]*.xml", "nomatch/[/ab]*.xml"):
        result = runner.invoke(app, ["annotate", pattern, "-m", "models/none", "-o", "out.jsonl"])
        assert result.exit_code == 2, result.output
        assert pattern in result.output and "Traceback" not in result.output


def test_a_changed_job_names_both_sides_with_their_brackets(tiny_model, tmp_path):
    import shutil

    other = tmp_path / "other-model"
    shutil.copytree(tiny_model, other)
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text(json.dumps({"id": "1", "text": "Naloxone reversed clonidine."}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    first = runner.invoke(app, ["annotate", str(corpus), "-m", str(tiny_model), "-o", str(out), "--no-progress"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["annotate", str(corpus), "-m", str(other), "-o", str(out), "--no-progress"],
                           terminal_width=400)
    assert second.exit_code == 2
    # the card's model name in brackets on both sides (rich markup used to swallow them)
    assert "models [tiny-bc5chem (fp32-" in second.output and ")] → [tiny-bc5chem (" in second.output, second.output


def test_a_wrong_dataset_name_lists_the_known_ones(tmp_path):
    for name in ("NOPE", "bc5-chem"):
        for command in (["train", "-d", name, "--out", str(tmp_path / "m")], ["sweep", "-d", name],
                        ["baseline", "-d", name, "--out", str(tmp_path / "b")]):
            result = runner.invoke(app, command, terminal_width=400)
            assert result.exit_code == 2, (command, result.output)
            assert "known: BC5-chem, BC5-disease" in result.output, (command, result.output)
            assert "no recipe" not in result.output
    assert "did you mean 'BC5-chem'" in runner.invoke(app, ["train", "-d", "bc5-chem", "--out", "x"],
                                                      terminal_width=400).output


def test_predict_without_input_says_so(tiny_model):
    result = runner.invoke(app, ["predict", str(tiny_model)], input="")
    assert result.exit_code == 2
    assert "no input text" in result.output


def test_train_console_has_one_bar_per_phase_and_no_raw_dicts(tiny_base, tmp_path):
    """What a user sees on a first run: no Trainer log dicts, no TracerWarning, one line per evaluation."""
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(f"dataset: BC5-chem\nbase_model: {tiny_base}\nepochs: 2\nbatch_size: 16\nmax_length: 32\n")
    result = subprocess.run([sys.executable, "-m", "biomedserve.cli", "train", "-d", "BC5-chem", "-r", str(recipe),
                             "--limit-train", "48", "--limit-eval", "16", "--out", str(tmp_path / "m"),
                             "--checkpoint-dir", str(tmp_path / "ckpt"), "--checkpoint-every", "2"],
                            capture_output=True, text=True, check=True)
    console = result.stdout + result.stderr
    assert "{'loss'" not in console and "{'eval_" not in console and "{'train_runtime'" not in console
    assert "TracerWarning" not in console
    assert result.stdout.strip() == ""  # stdout stays for results; progress and summaries go to stderr
    lines = console.replace("\r", "\n").splitlines()
    assert any(line.startswith("epoch 1: dev f1 ") for line in lines)
    assert any(line.startswith("epoch 2: dev f1 ") for line in lines)
    assert any(line.startswith("scoring test") for line in lines)
    assert "wrote " in result.stderr
    assert not (tmp_path / "ckpt").exists() and "resuming" not in console  # a whole run leaves no checkpoints


def test_train_help_names_slimfit_and_explains_it_in_a_paragraph():
    result = runner.invoke(app, ["train", "--help"], terminal_width=200, env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0
    for text in ("--slimfit", "--slimfit-freeze-ratio", "--measure-memory", "Ardakani", "least-moving", "int8",
                 "--checkpoint-dir", "--checkpoint-every", "resumes"):
        assert text in result.output, text


def test_data_stats_lists_the_extra_corpora():
    result = subprocess.run([sys.executable, "-m", "biomedserve.cli", "data", "stats", "--json",
                             "-d", "linnaeus", "-d", "Ex-PTM"], capture_output=True, text=True, check=True)
    stats = json.loads(result.stdout)
    assert stats["linnaeus"]["test"]["mentions"] == 1428 and stats["Ex-PTM"]["dev"]["sentences"] == 434


def test_predict_and_export_take_a_guideline(tiny_multicorpus_model, tmp_path):
    import shutil

    model = tmp_path / "m"
    shutil.copytree(tiny_multicorpus_model, model)
    result = runner.invoke(app, ["export", str(model), "--guideline", "GENE=BioNLP", "--abbreviations", "on"],
                           terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "GENE=BioNLP" in result.output and "abbreviation resolution" in result.output
    result = runner.invoke(app, ["predict", str(model), "--guideline", "BC2GM", "The androgen receptor binds p53."])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert all(e["guideline"] == "BC2GM" for e in line["entities"] if e["label"] == "GENE")
    result = runner.invoke(app, ["export", str(model), "--guideline", "GENE=GENIA"], terminal_width=200)
    assert result.exit_code != 0 and "GENIA" in result.output
    result = runner.invoke(app, ["export", str(model), "--abbreviations", "maybe"], terminal_width=200)
    assert result.exit_code != 0 and "on or off" in result.output
    result = runner.invoke(app, ["export", str(model), "--species-lexicon", "on"], terminal_width=200)
    assert result.exit_code == 0 and "species lexicon" in result.output
    result = runner.invoke(app, ["predict", str(model), "Infected potato leaves."])
    assert {"text": "potato", "label": "SPECIES"}.items() <= json.loads(result.output.strip().splitlines()[-1])[
        "entities"][0].items()
    result = runner.invoke(app, ["export", str(model), "--species-lexicon", "yes"], terminal_width=200)
    assert result.exit_code != 0 and "--species-lexicon must be on or off" in result.output
