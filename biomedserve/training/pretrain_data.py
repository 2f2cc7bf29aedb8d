"""The text side of domain-adaptive pretraining: corpus sentences, the leakage guard, the token store.

A corpus can be far larger than memory (the PubMed baseline is tens of gigabytes of XML), so every
step streams: the annotator's readers (:mod:`biomedserve.data.document_readers`) yield one document at
a time, each passage is cut into sentences by the runtime's rule (:func:`biomedserve.text.words.split_sentences`),
the sentences are tokenised and packed into sequences of exactly ``max_length`` tokens
(``[CLS] … [SEP]``), and full shards of sequences go to ``.npy`` files that training reads back
memory-mapped. RAM holds one shard, whatever the corpus size, and a resumed run reads the very
same sequences from disk.

**Leakage guard.** Sentences of evaluation files (``--exclude``: BLURB NER ``word<TAB>tag`` files,
or anything the readers read) must not be pretrained on. Both sides are compared as *normalised
sentences*: cut into the runtime's words (so ``5-fluorouracil`` in raw text equals the corpus tokens
``5 - fluorouracil``), joined by single spaces and case-folded; only a 16-byte hash of each excluded
sentence is kept, so memory follows the excluded text, not the corpus. Sentence boundaries may be
drawn differently on the two sides, so an excluded sentence also contributes the pieces the runtime's
rule would cut it into, and a corpus passage is checked sentence by sentence and by runs of two and
three consecutive sentences. Sentences under :data:`MIN_WORDS` words ("Results.") are not compared:
they would refuse ordinary corpora.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biomedserve.atomic import atomic_write
from biomedserve.checksums import file_sha256
from biomedserve.data.document_readers import kind_of, read_items, resolve_inputs
from biomedserve.data.documents import Document, ReadError
from biomedserve.errors import BiomedserveError
from biomedserve.text.words import split_sentences, split_words

MIN_WORDS = 5  # shorter sentences are too generic to call leakage
RUN_LENGTHS = (1, 2, 3)  # consecutive corpus sentences compared as one (boundaries drawn differently)
SHARD_SEQUENCES = 4096  # sequences per .npy shard: the RAM the store needs while it is written
STORE_FORMAT = 1


class LeakageError(BiomedserveError):
    """The corpus contains sentences of an excluded (evaluation) file."""


def normalise(text: str) -> str:
    """The comparable form of a sentence: runtime words joined by single spaces, case-folded."""
    return " ".join(word.text for word in split_words(text)).casefold()


def sentence_key(text: str) -> bytes | None:
    """A 16-byte hash of the normalised sentence, or None when it is too short to compare."""
    words = normalise(text)
    if words.count(" ") + 1 < MIN_WORDS:
        return None
    return hashlib.blake2b(words.encode("utf-8"), digest_size=16).digest()


# ---------------------------------------------------------------- excluded sentences
def _tagged_sentences(path: Path) -> Iterator[str]:
    """Sentences of a BLURB ``word<TAB>tag`` file (NER or PICO tags), tokens joined by spaces."""
    from biomedserve.data.registry import BIO_TAGS, PICO_TAGS
    from biomedserve.data.tagged import read_tagged_tsv

    for sentence in read_tagged_tsv(path, allowed_tags=BIO_TAGS | PICO_TAGS):
        yield " ".join(sentence.tokens)


def _document_sentences(document: Document) -> Iterator[list[str]]:
    """Each passage of a document as its list of sentences (a passage never runs into the next)."""
    for passage in document.passages:
        yield split_sentences(passage.text)


def _reader_sentences(path: str) -> Iterator[str]:
    """Sentences of any file the annotator's readers take; a malformed record is an error here,
    since an excluded file that is only partly read would guard only partly."""
    source = resolve_inputs([path])[0]
    for _, item in read_items(source):
        if isinstance(item, ReadError):
            raise BiomedserveError(f"--exclude {path}: {item.location}: {item.reason}")
        if isinstance(item, Document):
            for sentences in _document_sentences(item):
                yield from sentences


@dataclass
class Exclusions:
    """Hashes of the normalised sentences that must not appear in a pretraining corpus."""

    keys: set[bytes] = field(default_factory=set)
    files: list[dict[str, Any]] = field(default_factory=list)  # path, sha256, sentences: for the card

    def add(self, sentence: str) -> None:
        """The sentence and, when the runtime's rule would cut it, each of its pieces."""
        pieces = split_sentences(sentence)
        for text in {sentence, *(pieces if len(pieces) > 1 else [])}:
            key = sentence_key(text)
            if key is not None:
                self.keys.add(key)


def load_exclusions(paths: Sequence[str | Path]) -> Exclusions:
    """Read every excluded file (``.tsv``: BLURB ``word<TAB>tag``; else any reader format).

    A file that is missing or in no known format is an error naming it, before any corpus is read.
    """
    exclusions = Exclusions()
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise BiomedserveError(f"--exclude {raw}: no such file")
        if path.name.lower().endswith(".tsv"):
            sentences = _tagged_sentences(path)
        elif kind_of(path.name):
            sentences = _reader_sentences(str(path))
        else:
            raise BiomedserveError(f"--exclude {raw}: unknown format; expected a BLURB word<TAB>tag .tsv "
                                   "or a file the corpus readers take (.txt, .jsonl, .xml, .xml.gz)")
        count = 0
        for sentence in sentences:
            exclusions.add(sentence)
            count += 1
        exclusions.files.append({"path": str(raw), "sha256": file_sha256(path), "sentences": count})
    return exclusions


def leaked(sentences: Sequence[str], keys: set[bytes]) -> list[str]:
    """The sentences (or runs of consecutive sentences) of one passage whose hash is excluded."""
    if not keys:
        return []
    found = []
    for run in RUN_LENGTHS:
        for start in range(len(sentences) - run + 1):
            text = " ".join(sentences[start:start + run])
            if sentence_key(text) in keys:
                found.append(text)
    return found


# ---------------------------------------------------------------- the packed token store
@dataclass
class StoreInfo:
    """What a finished token store holds (its ``manifest.json``)."""

    fingerprint: dict[str, Any]
    train_shards: list[str]
    heldout_shards: list[str]
    train_sequences: int
    heldout_sequences: int
    corpus_tokens: int  # tokens packed into sequences, special tokens included
    dropped_tokens: int  # the corpus's last tokens, too few for a full sequence
    corpus: list[dict[str, Any]]  # per input file: path, sha256, documents, sentences, read_errors
    read_errors: list[dict[str, Any]]  # the first few malformed records, for the card


class _ShardWriter:
    """Sequences of one kind (train or held-out) written as ``<kind>-NNNNN.npy`` shards."""

    def __init__(self, folder: Path, kind: str, length: int, dtype):
        self.folder, self.kind, self.length, self.dtype = folder, kind, length, dtype
        self.buffer = np.empty((SHARD_SEQUENCES, length), dtype=dtype)
        self.filled = 0
        self.shards: list[str] = []
        self.count = 0

    def add(self, sequence: Sequence[int]) -> None:
        self.buffer[self.filled] = sequence
        self.filled += 1
        self.count += 1
        if self.filled == SHARD_SEQUENCES:
            self.flush()

    def flush(self) -> None:
        if not self.filled:
            return
        name = f"{self.kind}-{len(self.shards):05d}.npy"
        data = io.BytesIO()
        np.save(data, self.buffer[: self.filled])
        atomic_write(self.folder / name, data.getvalue())
        self.shards.append(name)
        self.filled = 0


class _Packer:
    """Token ids → sequences of exactly ``length`` tokens, ``[CLS] … [SEP]``, dealt to train or
    held-out: every ``heldout_every``-th sequence is held out until ``heldout_max`` are."""

    def __init__(self, folder: Path, tokenizer, length: int, heldout_every: int | None, heldout_max: int):
        dtype = np.uint16 if len(tokenizer) <= np.iinfo(np.uint16).max else np.int32
        self.cls, self.sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        if self.cls is None or self.sep is None:
            raise BiomedserveError("the base model's tokenizer has no [CLS]/[SEP] tokens to frame sequences with")
        self.body = length - 2
        self.pending: list[int] = []
        self.train = _ShardWriter(folder, "train", length, dtype)
        self.heldout = _ShardWriter(folder, "heldout", length, dtype)
        self.heldout_every, self.heldout_max = heldout_every, heldout_max
        self.sequences = 0

    def add(self, ids: Sequence[int]) -> None:
        self.pending.extend(ids)
        while len(self.pending) >= self.body:
            sequence = [self.cls, *self.pending[: self.body], self.sep]
            del self.pending[: self.body]
            held = (self.heldout_every and self.sequences % self.heldout_every == self.heldout_every - 1
                    and self.heldout.count < self.heldout_max)
            (self.heldout if held else self.train).add(sequence)
            self.sequences += 1

    def close(self) -> None:
        self.train.flush()
        self.heldout.flush()


def store_fingerprint(corpus: Sequence[dict[str, Any]], exclusions: Exclusions, tokenizer, max_length: int,
                      heldout_every: int | None, heldout_max: int) -> dict[str, Any]:
    """What decides a store's contents: its inputs by sha256, the tokenizer's vocabulary and the packing."""
    vocab = json.dumps(tokenizer.get_vocab(), sort_keys=True).encode("utf-8")
    return {"format": STORE_FORMAT, "corpus": [[c["path"], c["sha256"]] for c in corpus],
            "exclude": [[e["path"], e["sha256"]] for e in exclusions.files],
            "tokenizer_vocab_sha256": hashlib.sha256(vocab).hexdigest(), "max_length": max_length,
            "heldout_every": heldout_every, "heldout_max": heldout_max, "min_words": MIN_WORDS}


def read_store(folder: Path) -> StoreInfo | None:
    """The finished store in ``folder``, or None (absent, or its build was interrupted)."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return None
    return StoreInfo(**json.loads(manifest.read_text()))


def build_store(corpus_args: Sequence[str], tokenizer, max_length: int, heldout_fraction: float,
                heldout_max: int, exclusions: Exclusions, folder: Path, say=print) -> StoreInfo:
    """Stream the corpus into packed shards under ``folder``, or reuse the finished store there.

    The store is reused only if its fingerprint (inputs by sha256, excluded files, tokenizer,
    packing) matches; otherwise, or if an earlier build was interrupted, it is rebuilt from scratch.
    A corpus file holding an excluded sentence stops the build with a :class:`LeakageError` naming
    the file and quoting the first such sentences; nothing is trained on.
    """
    sources = resolve_inputs(list(corpus_args))
    corpus = [{"path": s.path, "sha256": file_sha256(s.opens)} for s in sources]
    heldout_every = max(2, round(1 / heldout_fraction)) if heldout_fraction > 0 else None
    fingerprint = store_fingerprint(corpus, exclusions, tokenizer, max_length, heldout_every, heldout_max)
    found = read_store(folder)
    if found is not None and found.fingerprint == fingerprint:
        say(f"token store: reusing {folder} ({found.train_sequences} training sequences)")
        return found
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    packer = _Packer(folder, tokenizer, max_length, heldout_every, heldout_max)
    errors: list[dict[str, Any]] = []
    for source, record in zip(sources, corpus):
        documents = sentences = bad = 0
        offending: list[str] = []
        for _, item in read_items(source):
            if isinstance(item, ReadError):
                bad += 1
                if len(errors) < 20:
                    errors.append(item.to_dict())
                continue
            if not isinstance(item, Document):
                continue  # a DeleteCitation: nothing to learn from
            documents += 1
            for passage in _document_sentences(item):
                offending += leaked(passage, exclusions.keys)
                if passage:
                    sentences += len(passage)
                    for ids in tokenizer(passage, add_special_tokens=False, verbose=False)["input_ids"]:
                        packer.add(ids)
        if offending:
            quoted = "; ".join(repr(s[:200]) for s in offending[:3])
            more = f" (and {len(offending) - 3} more)" if len(offending) > 3 else ""
            raise LeakageError(f"{source.path} contains {len(offending)} sentence(s) of the excluded files, "
                               f"e.g. {quoted}{more}; remove them from the corpus")
        record.update(documents=documents, sentences=sentences, read_errors=bad)
    packer.close()
    if packer.train.count == 0:
        raise BiomedserveError(f"the corpus holds {len(packer.pending)} tokens, fewer than one training "
                               f"sequence of {max_length}; give more text or a smaller --max-length")
    info = StoreInfo(fingerprint=fingerprint, train_shards=packer.train.shards, heldout_shards=packer.heldout.shards,
                     train_sequences=packer.train.count, heldout_sequences=packer.heldout.count,
                     corpus_tokens=packer.sequences * max_length, dropped_tokens=len(packer.pending),
                     corpus=corpus, read_errors=errors)
    atomic_write(folder / "manifest.json", json.dumps(info.__dict__, indent=1) + "\n")  # marks it finished
    return info


class PackedSequences:
    """A map-style dataset over shards, memory-mapped: item ``i`` is sequence ``i % n`` of pass
    ``i // n``, and carries a masking seed drawn from (seed, pass, sequence).

    Why the pass is in the index: masks must differ between epochs (dynamic masking) yet be the
    same in a run resumed from a checkpoint, so they cannot come from a random state that lives in
    memory. :class:`EpochSampler` yields indices of the current epoch's pass.
    """

    def __init__(self, folder: Path, shards: Sequence[str], seed: int, salt: int = 0):
        self.arrays = [np.load(folder / name, mmap_mode="r") for name in shards]
        self.offsets = np.cumsum([0] + [len(a) for a in self.arrays])
        self.seed, self.salt = seed, salt

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        n = len(self)
        epoch, position = divmod(int(index), n)
        shard = int(np.searchsorted(self.offsets, position, side="right")) - 1
        row = np.asarray(self.arrays[shard][position - self.offsets[shard]], dtype=np.int64)
        digest = hashlib.blake2b(f"{self.seed}:{self.salt}:{epoch}:{position}".encode(), digest_size=8).digest()
        return {"input_ids": torch.from_numpy(row), "mask_seed": int.from_bytes(digest, "little") >> 1}
