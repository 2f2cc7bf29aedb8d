"""atomic_write: the file is the old one or all of the new one, and no temporary file is left."""

import os

import pytest

from biomedserve import atomic
from biomedserve.atomic import atomic_write


def test_writes_text_and_bytes_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "card.json"
    atomic_write(target, "first ✓\n")
    assert target.read_text(encoding="utf-8") == "first ✓\n"
    atomic_write(target, b"\x00second")
    assert target.read_bytes() == b"\x00second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.json"]


def test_a_failed_replace_keeps_the_old_file_and_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / "result.json"
    atomic_write(target, "old")

    def crash(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]
    assert os.replace is crash
