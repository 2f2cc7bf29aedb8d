"""``biomedserve pretrain``: the packed store, the leakage guard, exact resume, and fine-tuning from the output."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biomedserve.cli import app


def _write_pubmed(path: Path) -> Path:
    """A small PubMed XML file (the annotator's reader handles the real baseline format)."""
    articles = "".join(
        f"<PubmedArticle><MedlineCitation><PMID>{pmid}</PMID><Article><ArticleTitle>Cisplatin nephrotoxicity "
        f"in cohort {pmid}.</ArticleTitle><Abstract><AbstractText>Cisplatin causes acute kidney injury in "
        f"{pmid % 50 + 5} percent of patients. Magnesium supplementation lowered serum creatinine. "
        "Tubular damage was confirmed by biopsy.</AbstractText></Abstract></Article></MedlineCitation>"
        "</PubmedArticle>\n" for pmid in range(29768149, 29768169))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n<PubmedArticleSet>\n{articles}</PubmedArticleSet>\n')
    return path


PUBMED = _write_pubmed(Path(tempfile.mkdtemp(prefix="pretrain-test-")) / "pubmed-29768149.xml")
runner = CliRunner()

LEAKED = "Naloxone reversed the hypotensive effect of clonidine in these rats."


def _corpus(folder: Path, extra: str = "") -> Path:
    """A small mixed corpus: the real PubMed record, a JSONL file and a text file."""
    folder.mkdir(parents=True, exist_ok=True)
    docs = [{"id": str(i), "title": f"Study {i} of renal function.",
             "abstract": f"We measured creatinine clearance in {i + 10} patients treated with cisplatin. "
                         "Serum levels rose after the second cycle. Hydration reduced the damage."}
            for i in range(30)]
    (folder / "abstracts.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    (folder / "note.txt").write_text("Tamoxifen binds the oestrogen receptor in breast tissue. " + extra)
    return folder


def _config(tmp_path: Path, base: Path, out: str, **overrides):
    from biomedserve.training.pretraining import PretrainConfig

    settings = dict(corpus=[str(PUBMED), str(_corpus(tmp_path / "corpus"))], out=str(tmp_path / out),
                    base_model=str(base), max_steps=8, batch_size=4, max_length=32, heldout_fraction=0.1,
                    save_steps=3, learning_rate=1e-3, seed=5, head_warmup_steps=4)
    settings.update(overrides)
    return PretrainConfig(**settings)


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


class _Kill(Exception):
    pass


def _killer(at_step: int, warmup: bool = False, event: str = "on_save"):
    """A callback that dies right after ``at_step`` of the main phase (or of the head warm-up), as a
    SIGKILL would: by default once that step's checkpoint is written, with ``event="on_step_end"``
    as soon as the step is taken (whether or not a checkpoint holds it)."""
    from transformers import TrainerCallback

    from biomedserve.training.pretraining import WARMUP_DIR

    class Kill(TrainerCallback):
        def fire(self, args, state):
            in_warmup = Path(args.output_dir).parent.name == WARMUP_DIR
            if state.global_step == at_step and in_warmup == warmup:
                raise _Kill(f"killed after {'warm-up ' if warmup else ''}step {at_step}")

    def hook(self, args, state, control, **kwargs):
        self.fire(args, state)

    setattr(Kill, event, hook)
    return Kill()


@pytest.fixture(scope="module")
def pretrained(tiny_base, tmp_path_factory) -> Path:
    """An uninterrupted 8-step run over two epochs' worth of data boundaries."""
    from biomedserve.training.pretraining import pretrain

    tmp = tmp_path_factory.mktemp("pretrain")
    card = pretrain(_config(tmp, tiny_base, "whole"), progress=False, say=lambda _: None)
    assert card["steps"] == 8
    return tmp / "whole"


def test_a_killed_run_resumes_to_the_uninterrupted_weights(pretrained, tiny_base, tmp_path):
    import torch

    from biomedserve.training.pretraining import WORK_DIR, pretrain

    config = _config(tmp_path, tiny_base, "killed")
    with pytest.raises(_Kill):
        pretrain(config, progress=False, callbacks=[_killer(6)], say=lambda _: None)
    assert (Path(config.out) / WORK_DIR / "checkpoints" / "checkpoint-6").is_dir()
    card = pretrain(config, progress=False, say=lambda _: None)  # the same command again
    assert card["resumed_from"].endswith("checkpoint-6")
    whole, resumed = _weights(pretrained), _weights(Path(config.out))
    assert whole.keys() == resumed.keys()
    for name in whole:
        assert torch.allclose(whole[name], resumed[name], rtol=0, atol=1e-6), name
    first = json.loads((pretrained / "pretrain_card.json").read_text())
    assert card["loss_curve"] == first["loss_curve"]
    assert card["heldout_perplexity"] == first["heldout_perplexity"]
    assert not (Path(config.out) / WORK_DIR).exists()  # work folder removed once finished


def test_a_run_killed_in_and_after_the_head_warmup_resumes_to_the_uninterrupted_weights(pretrained, tiny_base,
                                                                                        tmp_path):
    """Killed at the warm-up's checkpoint, then after it but before any main checkpoint: the same weights."""
    import torch

    from biomedserve.training.pretraining import WARMUP_DIR, WORK_DIR, pretrain

    config = _config(tmp_path, tiny_base, "killed-twice")
    with pytest.raises(_Kill):
        pretrain(config, progress=False, callbacks=[_killer(3, warmup=True)], say=lambda _: None)
    work = Path(config.out) / WORK_DIR
    assert (work / WARMUP_DIR / "checkpoints" / "checkpoint-3").is_dir()
    assert not (work / WARMUP_DIR / "warmup.json").exists()
    with pytest.raises(_Kill):
        pretrain(config, progress=False, callbacks=[_killer(2, event="on_step_end")], say=lambda _: None)
    assert (work / WARMUP_DIR / "warmup.json").is_file() and not (work / "checkpoints" / "checkpoint-3").exists()
    card = pretrain(config, progress=False, say=lambda _: None)
    assert card["head_warmup"]["resumed_from"].endswith("checkpoint-3") and card["resumed_from"] is None
    whole, resumed = _weights(pretrained), _weights(Path(config.out))
    for name in whole:
        assert torch.allclose(whole[name], resumed[name], rtol=0, atol=1e-6), name
    first = json.loads((pretrained / "pretrain_card.json").read_text())
    assert card["heldout_perplexity"] == first["heldout_perplexity"]
    assert card["head_warmup"]["loss_curve"] == first["head_warmup"]["loss_curve"]


def test_head_warmup_trains_only_the_missing_head_and_lowers_the_before_perplexity(tiny_base, tmp_path):
    """tiny_base is saved as a BertModel: no masked-LM head, so BertForMaskedLM starts with a random one."""
    import torch

    from biomedserve.training.pretraining import WARMUP_DIR, WORK_DIR, load_masked_lm, pretrain

    config = _config(tmp_path, tiny_base, "warm", head_warmup_steps=30, max_steps=1)
    card = pretrain(config, progress=False, say=lambda _: None, keep_work=True)
    assert card["head_warmup"]["head_missing"] is True and card["head_warmup"]["steps"] == 30
    assert "head warm-up" in card["heldout_perplexity"]["before_measured"]
    warmed = _weights(Path(config.out) / WORK_DIR / WARMUP_DIR / "model")
    base = _weights(tiny_base)
    encoder = {name: tensor for name, tensor in warmed.items() if name.startswith("bert.")}
    assert encoder.keys() == {f"bert.{name}" for name in base if not name.startswith("pooler.")}
    for name, tensor in encoder.items():
        assert torch.equal(tensor, base[name.removeprefix("bert.")]), name  # frozen: bit for bit
    initial, missing = load_masked_lm(str(tiny_base), str(tiny_base), config.seed)
    assert missing
    head = {name: p.detach() for name, p in initial.named_parameters() if name.startswith("cls.")}
    assert head and all(not torch.equal(warmed[name], tensor) for name, tensor in head.items())

    cold = pretrain(_config(tmp_path, tiny_base, "cold", head_warmup_steps=0, max_steps=1), progress=False,
                    say=lambda _: None)
    assert cold["head_warmup"]["steps"] == 0 and "random" in cold["heldout_perplexity"]["before_measured"]
    assert card["heldout_perplexity"]["before"] < cold["heldout_perplexity"]["before"]


def test_head_warmup_defaults_to_on_only_when_the_head_is_missing(tiny_base, tmp_path):
    import torch
    from transformers import BertForMaskedLM

    from biomedserve.training.pretraining import DEFAULT_HEAD_WARMUP_STEPS, load_masked_lm, resolve_head_warmup_steps

    with_head = tmp_path / "with-head"
    torch.manual_seed(1)
    BertForMaskedLM.from_pretrained(str(tiny_base)).save_pretrained(str(with_head))
    assert load_masked_lm(str(with_head), "with-head", 1)[1] is False
    assert load_masked_lm(str(tiny_base), "tiny", 1)[1] is True
    assert resolve_head_warmup_steps(None, head_missing=True) == DEFAULT_HEAD_WARMUP_STEPS > 0
    assert resolve_head_warmup_steps(None, head_missing=False) == 0
    assert resolve_head_warmup_steps(7, head_missing=False) == 7


def test_sparse_mlm_loss_equals_the_full_masked_lm_loss_and_gradients(tiny_base):
    import torch
    from transformers import BertForMaskedLM

    from biomedserve.training.pretraining import sparse_mlm_loss

    torch.manual_seed(0)
    model = BertForMaskedLM.from_pretrained(str(tiny_base))
    input_ids = torch.randint(1000, 5000, (3, 24))
    labels = torch.full_like(input_ids, -100)
    chosen = torch.rand(input_ids.shape) < 0.15
    chosen[0, 3] = True
    labels[chosen] = torch.randint(1000, 5000, (int(chosen.sum()),))
    inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": labels}

    full = model(**inputs).loss
    full.backward()
    full_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    sparse, logits = sparse_mlm_loss(model, inputs)
    sparse.backward()
    assert logits.shape == (int(chosen.sum()), model.config.vocab_size)  # only the masked positions projected
    assert torch.allclose(sparse, full, rtol=1e-5, atol=1e-6)
    assert full_grads.keys() == {n for n, p in model.named_parameters() if p.grad is not None}
    for name, grad in full_grads.items():
        assert torch.allclose(model.get_parameter(name).grad, grad, rtol=1e-4, atol=1e-7), name


def test_resuming_with_other_settings_is_refused(tiny_base, tmp_path):
    from biomedserve.errors import BiomedserveError
    from biomedserve.training.pretraining import pretrain

    with pytest.raises(_Kill):
        pretrain(_config(tmp_path, tiny_base, "run"), progress=False, callbacks=[_killer(3)], say=lambda _: None)
    with pytest.raises(BiomedserveError, match=r"learning_rate was 0\.001, now 0\.01"):
        pretrain(_config(tmp_path, tiny_base, "run", learning_rate=1e-2), progress=False, say=lambda _: None)


def test_the_card_and_an_encoder_directory(pretrained):
    from transformers import AutoModel, AutoModelForTokenClassification

    card = json.loads((pretrained / "pretrain_card.json").read_text())
    assert [c["path"] for c in card["corpus"]][0] == str(PUBMED)
    assert all(len(c["sha256"]) == 64 for c in card["corpus"])
    assert card["tokens"]["tokens_seen"] == 8 * 4 * 32
    assert card["tokens"]["heldout_sequences"] > 0
    before, after = card["heldout_perplexity"]["before"], card["heldout_perplexity"]["after"]
    assert before > 0 and after > 0 and after != before
    assert card["loss_curve"] and card["bf16"]["reason"]
    assert card["packages"]["transformers"]
    AutoModel.from_pretrained(str(pretrained))
    AutoModelForTokenClassification.from_pretrained(str(pretrained), num_labels=3)


def test_train_takes_the_pretrained_encoder_as_base_model(pretrained, tmp_path):
    out = tmp_path / "bc5chem-adapted"
    result = runner.invoke(app, ["train", "-d", "BC5-chem", "--base-model", str(pretrained), "--max-steps", "2",
                                 "--batch-size", "4", "--limit-train", "16", "--limit-eval", "8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "biomedserve.json").read_text())
    assert meta["base_model"] == str(pretrained)
    assert (out / "model.onnx").is_file()


def test_leaked_sentence_is_refused_naming_file_and_sentence(tiny_base, tmp_path):
    from biomedserve.training.pretrain_data import LeakageError
    from biomedserve.training.pretraining import pretrain

    excluded = tmp_path / "test.tsv"  # BLURB NER format: the corpus's tokens, one per line
    tokens = "Naloxone reversed the hypotensive effect of clonidine in these rats .".split()
    excluded.write_text("\n".join(f"{t}\t{'B' if t in ('Naloxone', 'clonidine') else 'O'}" for t in tokens) + "\n\n")
    config = _config(tmp_path, tiny_base, "leaky", exclude=[str(excluded)])
    config.corpus = [str(_corpus(tmp_path / "leaky-corpus", extra=LEAKED.upper()))]
    with pytest.raises(LeakageError) as caught:
        pretrain(config, progress=False, say=lambda _: None)
    message = str(caught.value)
    assert "note.txt" in message and LEAKED.upper() in message
    assert not (tmp_path / "leaky" / "model.safetensors").exists()


def test_leak_found_across_sentence_boundaries_and_clean_corpus_passes(tiny_base, tmp_path):
    from biomedserve.text.words import split_sentences
    from biomedserve.training.pretrain_data import Exclusions, build_store, leaked, load_exclusions

    excluded = tmp_path / "dev.txt"
    excluded.write_text("Cisplatin caused acute renal failure in two patients. Both recovered fully in a week.\n")
    exclusions = load_exclusions([str(excluded)])
    # found within a passage, whatever the spacing
    passage = split_sentences("Background first. Cisplatin  caused acute renal failure in two patients. "
                              "Both recovered fully in a week. Unrelated closing remark here today.")
    assert leaked(passage, exclusions.keys)
    # excluded as one sentence (a BLURB line), found in a corpus that splits it in two
    one = Exclusions()
    one.add("Cisplatin caused acute renal failure in two patients . Both recovered fully in a week .")
    assert leaked(split_sentences("Both recovered fully in a week."), one.keys)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    store = build_store([str(_corpus(tmp_path / "clean"))], tokenizer, 32, 0.1, 100, exclusions,
                        tmp_path / "tokens", say=lambda _: None)
    assert store.train_sequences > 0


def test_exclude_file_in_unknown_format_is_named(tmp_path):
    from biomedserve.errors import BiomedserveError
    from biomedserve.training.pretrain_data import load_exclusions

    bad = tmp_path / "gold.csv"
    bad.write_text("a,b\n")
    with pytest.raises(BiomedserveError, match="gold.csv: unknown format"):
        load_exclusions([str(bad)])
    tsv = tmp_path / "broken.tsv"
    tsv.write_text("word\tB\nno-tab-here\n")
    with pytest.raises(BiomedserveError, match=r"broken.tsv:2"):
        load_exclusions([str(tsv)])


def test_store_is_written_in_shards_and_reused(tiny_base, tmp_path, monkeypatch):
    """RAM holds one shard: a corpus of many shards reads back, in order, exactly what was packed."""
    import numpy as np
    from transformers import AutoTokenizer

    from biomedserve.training import pretrain_data
    from biomedserve.training.pretrain_data import Exclusions, PackedSequences, build_store

    monkeypatch.setattr(pretrain_data, "SHARD_SEQUENCES", 8)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    corpus = [str(PUBMED), str(_corpus(tmp_path / "c"))]
    store = build_store(corpus, tokenizer, 16, 0.25, 3, Exclusions(), tmp_path / "tokens", say=lambda _: None)
    assert len(store.train_shards) > 2 and store.heldout_sequences == 3
    data = PackedSequences(tmp_path / "tokens", store.train_shards, seed=1)
    rows = np.stack([data[i]["input_ids"].numpy() for i in range(len(data))])
    assert rows.shape == (store.train_sequences, 16)
    assert (rows[:, 0] == tokenizer.cls_token_id).all() and (rows[:, -1] == tokenizer.sep_token_id).all()
    assert np.array_equal(data[len(data)]["input_ids"], data[0]["input_ids"])  # epoch 1 reads the same rows
    assert data[len(data)]["mask_seed"] != data[0]["mask_seed"]  # with fresh masks
    said = []
    again = build_store(corpus, tokenizer, 16, 0.25, 3, Exclusions(), tmp_path / "tokens", say=said.append)
    assert again == store and "reusing" in said[0]


def test_whole_word_masking_masks_every_piece_of_a_word(tiny_base):
    import torch
    from transformers import AutoTokenizer

    from biomedserve.training.pretraining import SeededMasking

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    ids = tokenizer("hydrochlorothiazide and spironolactone antagonise aldosterone " * 6)["input_ids"][:60]
    pieces = tokenizer.convert_ids_to_tokens(ids)
    collate = SeededMasking(tokenizer, 0.3, whole_word=True, seed=3)
    example = {"input_ids": torch.tensor(ids), "mask_seed": 11}
    batch = collate([example])
    masked = (batch["labels"][0] != -100).tolist()
    assert any(masked)
    for i, piece in enumerate(pieces):
        if piece.startswith("##"):
            assert masked[i] == masked[i - 1], (pieces[i - 1], piece)
    assert torch.equal(collate([example])["input_ids"], batch["input_ids"])  # same seed, same mask


def test_cli_help_teaches_and_bad_option_is_named(tmp_path):
    result = runner.invoke(app, ["pretrain", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for needle in ("pubmed/baseline/", "--base-model encoders/minilm-pubmed", "pretrain_card.json", "resumes",
                   "--head-warmup-steps"):
        assert needle in result.output, needle
    bad = runner.invoke(app, ["pretrain", "--corpus", str(PUBMED), "--out", str(tmp_path / "o"),
                              "--mlm-probability", "1.5"])
    assert bad.exit_code == 2 and "--mlm-probability" in bad.output
    bad = runner.invoke(app, ["pretrain", "--corpus", str(PUBMED), "--out", str(tmp_path / "o"),
                              "--head-warmup-steps", "-1"])
    assert bad.exit_code == 2 and "--head-warmup-steps" in bad.output
