"""Line iteration that turns encoding problems into errors with a file and line number."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from biomedserve.errors import DataFormatError


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(1-based line number, line without its line ending)``; a BOM on line 1 is dropped.

    Decoding line by line keeps memory flat and lets a non-UTF-8 byte be reported where it is.
    """
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataFormatError(path, lineno, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
            yield lineno, line.rstrip("\n").rstrip("\r")
