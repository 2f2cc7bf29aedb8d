"""``biomedserve pretrain``: continue masked-LM training of an encoder on in-domain text.

The command parses its options and prints the outcome; the work is :func:`biomedserve.training.pretraining.pretrain`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from biomedserve.cli.common import err, fail, parse_bf16, quiet_libraries, say
from biomedserve.errors import BiomedserveError


def pretrain(
    corpus: list[str] = typer.Option(..., "--corpus", help="PubMed XML (.xml, .xml.gz), JSONL, .txt files, "
                                                           "directories (recursive) or quoted globs; repeatable."),
    out: Path = typer.Option(..., "--out", "-o", help="Encoder directory to write, e.g. encoders/minilm-pubmed."),
    base_model: str = typer.Option("default", "--base-model",
                                   help="'default' (embedded MiniLM), a hub id or a local path."),
    epochs: float = typer.Option(1.0, "--epochs", help="Passes over the corpus (ignored with --max-steps)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after N optimiser steps."),
    mlm_probability: float = typer.Option(0.15, "--mlm-probability", help="Share of tokens masked."),
    whole_word_masking: bool = typer.Option(False, "--whole-word-masking",
                                            help="Mask every WordPiece of a chosen word together."),
    max_length: int = typer.Option(128, "--max-length", help="Tokens per packed sequence, [CLS] and [SEP] included."),
    exclude: Optional[list[str]] = typer.Option(None, "--exclude",
                                                help="Evaluation files whose sentences must not be in the corpus "
                                                     "(BLURB word<TAB>tag .tsv, .txt, .jsonl, PubMed XML); repeatable."),
    seed: int = typer.Option(42, "--seed", help="Data order, masks and a new masked-LM head."),
    batch_size: int = typer.Option(32, "--batch-size", help="Sequences per optimiser step."),
    learning_rate: float = typer.Option(5e-5, "--learning-rate", "--lr", help="Peak learning rate (linear decay)."),
    heldout_fraction: float = typer.Option(0.01, "--heldout-fraction",
                                           help="Every (1/f)-th packed sequence is held out for perplexity."),
    heldout_max: int = typer.Option(1000, "--heldout-max", help="At most this many held-out sequences."),
    head_warmup_steps: Optional[int] = typer.Option(
        None, "--head-warmup-steps", help="Steps training only the masked-LM head (encoder frozen) before the "
                                          "'before' perplexity; default 200 when the base has no trained head "
                                          "(sentence-embedding encoders such as MiniLM), else 0."),
    head_warmup_lr: float = typer.Option(1e-3, "--head-warmup-lr", help="Peak learning rate of the head warm-up."),
    save_steps: int = typer.Option(500, "--save-steps", help="Checkpoint every N steps (what a kill can lose)."),
    bf16: str = typer.Option("auto", "--bf16", help="auto (bfloat16 autocast only where the hardware has it "
                                                    "natively), true or false."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Discard OUT (and an interrupted run) first."),
    keep_work: bool = typer.Option(False, "--keep-work", help="Keep OUT/.pretrain-work (token store, "
                                                              "checkpoints) after a finished run."),
) -> None:
    """Domain-adaptive pretraining: continue masked-LM training of an encoder on your text.

    \b
    Example, on a folder of PubMed baseline files (pubmed25n0001.xml.gz, ...),
    keeping the BC5-chem evaluation sentences out, then fine-tuning from it:
      biomedserve pretrain --corpus pubmed/baseline/ --max-steps 20000 \\
          --out encoders/minilm-pubmed \\
          --exclude data/blurb/BC5-chem/dev.tsv \\
          --exclude data/blurb/BC5-chem/test.tsv
      biomedserve train -d BC5-chem --base-model encoders/minilm-pubmed \\
          --out models/bc5chem-adapted

    \b
    What it does: streams the corpus (constant memory at any size) through the
    readers annotate uses, cuts it into sentences, tokenises and packs them into
    full sequences stored on disk in OUT/.pretrain-work; every (1/f)-th sequence
    is held out to measure masked-LM perplexity before and after training. A
    base without a trained masked-LM head first trains that head alone (encoder
    frozen), so "before" scores the encoder, not a random head.
    Killed? Run the same command again: it resumes from the last checkpoint
    with the result an uninterrupted run would have given. --exclude refuses a
    corpus that contains any sentence of the given evaluation files (compared
    as words, whitespace-collapsed and case-folded), naming the file and
    quoting the sentence.

    \b
    Output: OUT is an ordinary encoder directory (config.json, model.safetensors,
    tokenizer files) plus pretrain_card.json: corpus files with sha256, tokens
    seen, steps, the loss curve, held-out perplexity before and after, the bf16
    decision, packages and the excluded files. Anything that takes --base-model
    (train, sweep, the benchmarks) takes OUT.
    """
    from biomedserve.training.pretraining import PretrainConfig
    from biomedserve.training.pretraining import pretrain as run_pretraining

    quiet_libraries()
    try:
        config = PretrainConfig(
            corpus=list(corpus), out=str(out), base_model=base_model, epochs=epochs, max_steps=max_steps,
            mlm_probability=mlm_probability, whole_word_masking=whole_word_masking, max_length=max_length,
            exclude=list(exclude or []), seed=seed, batch_size=batch_size, learning_rate=learning_rate,
            heldout_fraction=heldout_fraction, heldout_max=heldout_max, save_steps=save_steps,
            bf16=parse_bf16(bf16), head_warmup_steps=head_warmup_steps,
            head_warmup_learning_rate=head_warmup_lr)
        card = run_pretraining(config, say=say, overwrite=overwrite, keep_work=keep_work)
    except BiomedserveError as exc:
        fail(exc)
    perplexity = card["heldout_perplexity"]
    err.print(f"[green]wrote {escape(str(out))}[/]: {card['steps']} steps, "
              f"{card['tokens']['tokens_seen']:,} tokens seen in {card['train_seconds']:.0f} s")
    warmup = card["head_warmup"]["steps"]
    before_note = f" (after a {warmup}-step head warm-up)" if warmup else ""
    say(f"  held-out perplexity: {perplexity['before']} before{before_note}, {perplexity['after']} after")
    bf16_used = card["bf16"]
    say(f"  precision: {'bf16 autocast' if bf16_used['used'] else 'fp32'} ({bf16_used['reason']})")
    say(f"  fine-tune from it: biomedserve train -d BC5-chem --base-model {out} --out models/<name>")
