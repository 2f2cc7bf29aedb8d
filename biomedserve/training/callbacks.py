"""What a Hugging Face ``Trainer`` run shows on the console: one progress bar per phase, one line per evaluation.

The Trainer's own console output is its ``ProgressCallback`` (a bar that prints every log as a raw
dict, and a nested bar per evaluation) or, with ``disable_tqdm``, its ``PrinterCallback`` (the raw
dicts alone). :func:`quiet_console` removes both; :class:`StepProgress` is the one bar a user reads,
with the last loss (and tokens/s, where the step size is known) beside it, and a one-line summary
per evaluation written above it. Fine-tuning and pretraining share it.
"""

from __future__ import annotations

import sys
import time


def quiet_console(trainer) -> None:
    """Remove the Trainer's own printing callbacks (raw log dicts, nested evaluation bars)."""
    from transformers import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def evaluation_line(metrics: dict, metric: str, epoch: float | None) -> str:
    """``epoch 2: dev f1 44.31 (loss 0.1109)``: one line for one ``Trainer.evaluate`` result."""
    where = f"epoch {epoch:g}: " if epoch is not None else ""
    loss = metrics.get("eval_loss")
    tail = f" (loss {loss:.4f})" if isinstance(loss, float) else ""
    return f"{where}dev {metric} {metrics[f'eval_{metric}']:.2f}{tail}"


def step_progress(desc: str, tokens_per_step: int | None = None, metric: str | None = None):
    """A ``TrainerCallback``: a bar over optimiser steps named ``desc``, with the last logged loss and,
    if ``tokens_per_step`` is given, tokens/s; each evaluation of ``metric`` prints one line above it."""
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class StepProgress(TrainerCallback):
        bar = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, unit="step", desc=desc,
                            dynamic_ncols=True)
            self.start, self.first = time.perf_counter(), state.global_step

        def on_step_end(self, args, state, control, **kwargs):
            self.bar.update(state.global_step - self.bar.n)
            if tokens_per_step:
                elapsed = max(time.perf_counter() - self.start, 1e-9)
                rate = (state.global_step - self.first) * tokens_per_step / elapsed
                self.bar.set_postfix_str(f"{rate:,.0f} tokens/s", refresh=False)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.bar is not None and logs and "loss" in logs:
                self.bar.set_description(f"{desc} (loss {logs['loss']:.3f})", refresh=False)

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if metric and metrics and f"eval_{metric}" in metrics:
                epoch = round(state.epoch, 2) if state.epoch is not None else None
                line = evaluation_line(metrics, metric, epoch)
                tqdm.write(line, file=sys.stderr)  # above the bar; stdout stays for results

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()

    return StepProgress()
