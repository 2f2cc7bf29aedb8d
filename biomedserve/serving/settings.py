"""Service limits and batching knobs, from the environment (so `biomedserve serve` flags and a
Bento's configuration set them the same way)."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    max_chars_per_text: int = 100_000
    max_texts: int = 256
    max_total_chars: int = 1_000_000
    max_body_bytes: int = 8_000_000
    batching: bool = True  # off: each request runs the model as it arrives (a plain web service)
    batch_max_tokens: int = 8192  # estimated sub-word tokens merged into one runtime call
    batch_max_items: int = 128
    batch_max_latency_ms: float = 10.0  # how long the first request of a batch waits for company
    workers: int = 0  # batches (or, unbatched, requests) running at once; 0 = one per usable core

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            max_chars_per_text=_int("BIOMEDSERVE_MAX_CHARS", cls.max_chars_per_text),
            max_texts=_int("BIOMEDSERVE_MAX_TEXTS", cls.max_texts),
            max_total_chars=_int("BIOMEDSERVE_MAX_TOTAL_CHARS", cls.max_total_chars),
            max_body_bytes=_int("BIOMEDSERVE_MAX_BODY_BYTES", cls.max_body_bytes),
            batching=os.environ.get("BIOMEDSERVE_BATCHING", "1") not in ("0", "false", "no"),
            batch_max_tokens=_int("BIOMEDSERVE_BATCH_TOKENS", cls.batch_max_tokens),
            batch_max_items=_int("BIOMEDSERVE_BATCH_ITEMS", cls.batch_max_items),
            batch_max_latency_ms=float(os.environ.get("BIOMEDSERVE_BATCH_LATENCY_MS", cls.batch_max_latency_ms)),
            workers=_int("BIOMEDSERVE_WORKERS", cls.workers),
        )


SETTINGS = Settings.from_env()
