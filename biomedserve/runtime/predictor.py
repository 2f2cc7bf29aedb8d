"""The one runtime entry point: ``Predictor.from_dir("models/<name>")``.

The CLI, the service, the spaCy component and the annotator all call this, so batching, windowing
and decoding live here once. ``from_dir`` reads the model card, picks the predictor class its task
type registered (``biomedserve.modeldir.task_types``) and a backend (ONNX Runtime by default), and fails at
load — not at the first call — if anything in the directory is missing or corrupt. The runtime
imports nothing from training, export, evaluation or the task metrics (a test checks the import
graph), so a serving process loads neither PyTorch nor scikit-learn.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from biomedserve.errors import BiomedserveError, CollapsedModelError, ModelDirError
from biomedserve.modeldir.card import TOKENIZER_FILES, TORCH_FILES, ModelMeta, read_meta, verify_files
from biomedserve.modeldir.task_types import TASK_TYPES, TaskType
from biomedserve.modeldir.variant_choice import GraphChoice, choose_variant, explicit_graph
from biomedserve.runtime.abbreviations import resolve_abbreviations
from biomedserve.runtime.backends import OnnxBackend, TorchBackend
from biomedserve.runtime.results import Entities, Entity, TaggedWords
from biomedserve.runtime.species_lexicon import LABEL as SPECIES
from biomedserve.runtime.species_lexicon import add_lexicon_species
from biomedserve.runtime.tokenizer import RuntimeTokenizer
from biomedserve.text.decoding import TagSpan, io_tags_to_spans, tags_to_spans
from biomedserve.text.encoding import Window, best_window_per_word, make_windows, word_pieces_batch
from biomedserve.text.words import Word, first_words, resplit, sentence_ranges, split_words

BACKENDS = ("onnx", "torch")
log = logging.getLogger(__name__)


class InputError(BiomedserveError, TypeError):
    """The caller passed something the model cannot take: not text, or an entity type it does not find."""


def refuse_collapsed(meta, model_dir: str | Path, allow: bool = False) -> None:
    """A :class:`CollapsedModelError` naming the floor and the score, for a model whose card says it
    collapsed onto its task's trivial answer (``biomedserve.export.floors``), unless ``allow``. Every
    front-end that serves a model (``serve``, ``predict``, the spaCy component, ``annotate``) calls it."""
    if not getattr(meta, "collapsed", False) or allow:
        return
    floor = meta.floor or {}
    raise CollapsedModelError(
        f"{model_dir}: refused, the model is collapsed: {meta.collapse_reason}. Its task's trivial floor "
        f"({floor.get('answer')}) scores {floor.get('dev')} on dev and {floor.get('test')} on test "
        f"({floor.get('metric')}). Pass --allow-collapsed (allow_collapsed=True) to use it anyway.")


def entity_types(tags: Iterable[str]) -> list[str]:
    """The entity types of a tagger's labels (``B-CHEMICAL`` → ``CHEMICAL``, PICO's ``I-PAR`` → ``PAR``),
    in label order, once each."""
    return list(dict.fromkeys(tag.partition("-")[2] for tag in tags if "-" in tag))


def select_types(types: Iterable[str] | None, known: Sequence[str], model: str = "the model") -> frozenset[str] | None:
    """The entity types a caller asked for, checked against the ones ``model`` finds (``known``).

    ``None`` means every type. Why a check rather than a silent filter: a misspelt type (``Gene``
    for ``GENE``) would otherwise look like a text without entities. An unknown type, an empty
    list or a bare string raises :class:`InputError` naming the bad types and listing ``known``.
    Every front-end that filters (the predictors, the service) validates through this one function.
    """
    if types is None:
        return None
    if isinstance(types, str):
        raise InputError(f"types must be a list of entity types, not the string {types!r}")
    wanted = list(types)
    listed = ", ".join(known) or "none"
    if not wanted:
        raise InputError(f"types is empty: name at least one of {model}'s entity types ({listed}), or none for all")
    unknown = [t for t in wanted if t not in known]
    if unknown:
        named = ", ".join(repr(t) for t in unknown)
        raise InputError(f"types: {model} finds no entity type {named}; its types are: {listed}")
    return frozenset(wanted)


class Predictor:
    """Base class: a loaded model directory plus a backend. Use :meth:`from_dir`.

    A subclass serves the task types whose :class:`~biomedserve.modeldir.task_types.TaskType` names it; its
    ``predict`` follows one rule: a string (or one pair) in gives one result, a list in gives a list.
    """

    task_type: TaskType  # the card's task type (set by from_dir)
    variant: str = "model.onnx"  # the ONNX file in use (set by from_dir)
    graph_choice: "GraphChoice | None" = None  # which graph and why (None for the torch backend)
    streams: int = 1  # batches in flight at once (set by from_dir)

    bucket_growth: float = 1.25  # a batch's longest input is at most this × its shortest (+4 tokens)

    def __init__(self, model_dir: Path, meta: ModelMeta, backend, tokenizer,
                 max_tokens_per_batch: int = 16384, max_batch_size: int = 64):
        self.model_dir = model_dir
        self.meta = meta
        self.backend = backend
        self.tokenizer = tokenizer
        self.max_tokens_per_batch = max_tokens_per_batch
        self.max_batch_size = max_batch_size

    @classmethod
    def from_dir(cls, model_dir: str | Path, backend: str = "onnx", threads: int | None = None,
                 providers: list[str] | None = None, variant: str = "auto", verify: bool = True,
                 streams: int = 1, graph: str | Path | None = None) -> "Predictor":
        """Open ``model_dir`` and return the predictor for its task type.

        ``streams`` > 1 runs that many batches at once, each ONNX Runtime call on
        ``cores // streams`` threads: more throughput on small CPUs at some cost in single-text
        latency (``benchmarks/inference.py``, figures in ``benchmarks/results/``) — a setting for bulk
        work, not the default.

        ``variant`` picks the ONNX graph: ``auto`` takes the card's gated default for this hardware
        (fp16 on a CUDA GPU if it passed there, else the CPU default, else fp32); a name such as
        ``fp32``, ``o2`` or ``int8`` forces one. ``graph`` instead names an ONNX file in ``model_dir``
        and runs it whether or not the card lists it, so a variant can be scored before it is recorded.
        ``verify=False`` skips the checksum pass (for a variant being built).
        """
        model_dir = Path(model_dir)
        if backend not in BACKENDS:
            raise BiomedserveError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        meta = read_meta(model_dir)
        task_type = TASK_TYPES.get(meta.task)
        if task_type is None:
            raise ModelDirError(
                f"{model_dir}: task {meta.task!r} has no runtime predictor; known: {', '.join(TASK_TYPES)}"
            )
        if backend != "onnx":
            if graph is not None:
                raise BiomedserveError(f"graph={str(graph)!r} is an ONNX file: it needs backend='onnx', not {backend!r}")
            choice = None
        elif graph is not None:
            choice = explicit_graph(model_dir, graph)
        else:
            choice = choose_variant(meta, variant, providers)
        graph = choice.graph_file if choice else None
        weights = (graph,) if backend == "onnx" else TORCH_FILES
        verify_files(model_dir, meta, weights + TOKENIZER_FILES, checksums=verify)
        tokenizer = RuntimeTokenizer(model_dir, meta.max_length)
        if backend == "onnx":
            if streams > 1 and threads is None:
                from biomedserve.runtime.backends import default_threads

                threads = max(1, default_threads() // streams)
            engine = OnnxBackend(model_dir / graph, providers=providers, threads=threads)
        else:
            engine = TorchBackend(model_dir, task_type.auto_model, threads=threads)
        predictor = task_type.predictor(model_dir, meta, engine, tokenizer)
        predictor.task_type = task_type
        predictor.streams = streams if backend == "onnx" else 1
        predictor.variant = graph
        predictor.graph_choice = choice
        if choice is not None:
            log.log(logging.WARNING if choice.fallback else logging.INFO, "%s: running %s: %s",
                    meta.name, graph, choice.reason)
        return predictor

    @property
    def name(self) -> str:
        return self.meta.name

    def _batches(self, inputs: list[list[int]], segments: list[list[int]] | None = None,
                 ) -> Iterator[tuple[list[int], dict[str, np.ndarray]]]:
        """Length-sorted batches, cut by a token budget, a size cap and a length bucket.

        Sorting by length keeps padding (wasted compute) small; a new batch starts when the next
        input is more than ``bucket_growth`` longer than the batch's shortest, so a merged batch of
        5- and 100-token sentences becomes two batches instead of 100-token padding for all (on CPU
        the extra call costs far less than the padding); the token budget keeps a batch of long
        inputs from costing more memory than one of short ones.
        """
        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
        pad = self.tokenizer.pad_token_id or 0

        def emit(indices: list[int]):
            width = len(inputs[indices[-1]])
            ids = np.full((len(indices), width), pad, dtype=np.int64)
            mask = np.zeros((len(indices), width), dtype=np.int64)
            types = np.zeros((len(indices), width), dtype=np.int64)
            for row, index in enumerate(indices):
                seq = inputs[index]
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1
                if segments is not None:
                    types[row, : len(seq)] = segments[index]
            return indices, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

        batch: list[int] = []
        for index in order:
            width = len(inputs[index])
            full = batch and ((len(batch) + 1) * width > self.max_tokens_per_batch
                              or len(batch) >= self.max_batch_size
                              or width > self.bucket_growth * len(inputs[batch[0]]) + 4)
            if full:
                yield emit(batch)
                batch = []
            batch.append(index)
        if batch:
            yield emit(batch)

    def _run(self, inputs: list[list[int]], segments: list[list[int]] | None = None,
             progress: bool | str = False) -> list[np.ndarray]:
        """Logits per input, in input order; ``streams`` batches run at once (see ``from_dir``).
        ``progress``: a bar, named by the string if one is given."""
        outputs: list[np.ndarray | None] = [None] * len(inputs)
        batches = self._batches(inputs, segments)
        desc = progress if isinstance(progress, str) else "predicting"  # a caller may name the phase
        with tqdm(total=len(inputs), desc=desc, unit="seq", disable=not progress) as bar:
            if self.streams > 1:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(self.streams) as pool:
                    done = pool.map(lambda item: (item[0], self.backend(item[1])), batches)
                    for indices, logits in done:
                        for row, index in enumerate(indices):
                            outputs[index] = logits[row]
                        bar.update(len(indices))
            else:
                for indices, batch in batches:
                    logits = self.backend(batch)
                    for row, index in enumerate(indices):
                        outputs[index] = logits[row]
                    bar.update(len(indices))
        return outputs


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class NerPredictor(Predictor):
    """Entities in raw text (or tags for pre-split words), any length, many texts per call."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.uses_species_lexicon:  # at load, so a missing index fails here and no request waits for the build
            from biomedserve.text.species_names import lexicon

            lexicon()

    @property
    def io_scheme(self) -> bool:
        """PICO's IO tags (no ``B-``): an entity is a run of one ``I-`` label."""
        return not any(label.startswith("B-") for label in self.meta.labels)

    @property
    def entity_types(self) -> list[str]:
        """The entity types this model finds, from its labels (``B-CHEMICAL`` → ``CHEMICAL``)."""
        return entity_types(self.meta.labels)

    @property
    def head_types(self) -> list[str]:
        """The types :meth:`predict_words_by_type` keys its layers by: here the entity types; a
        multi-type model with several guidelines for a type has one head each (``GENE@BioNLP``)."""
        return self.entity_types

    @property
    def guidelines(self) -> dict[str, list[str]]:
        """Per entity type, the annotation guidelines the model can follow (empty: one per type)."""
        return {}

    @property
    def resolves_abbreviations(self) -> bool:
        """Whether :meth:`predict` resolves abbreviations when the caller does not say (the card's choice)."""
        return bool(getattr(self.meta, "resolve_abbreviations", False))

    @property
    def uses_species_lexicon(self) -> bool:
        """Whether :meth:`predict` merges in the species lexicon when the caller does not say (the card's choice)."""
        return bool(getattr(self.meta, "species_lexicon", False))

    @property
    def default_guidelines(self) -> dict[str, str]:
        """Per such type, the guideline followed when the caller names none (empty: one per type)."""
        return {}

    def guideline_view(self, guideline: str | Mapping[str, str] | None) -> Mapping[str, str] | None:
        """Which head serves each type for ``guideline`` (None: the model's one head per type)."""
        if guideline is not None:
            raise InputError(f"guideline: {self.name} follows one annotation guideline per entity type; "
                             "only a model trained on corpora of several guidelines takes this option")
        return None

    def predict_words(self, sequences: Sequence[Sequence[str]], progress: bool = False) -> list[TaggedWords]:
        """Tag pre-split words, each sequence as one unit (a sentence, as in the corpora); sequences
        longer than the model are windowed, never truncated.

        The words are first cut the way the runtime cuts raw text (``IL-2`` → ``IL`` ``-`` ``2``), as in
        training, and each given word gets the tag and score of its first piece."""
        split = [resplit(seq) for seq in sequences]
        tagged = self._tag([words for words, _ in split], progress)
        results = []
        for (_, owner), tw in zip(split, tagged):
            firsts = first_words(owner)
            results.append(TaggedWords([tw.tags[k] for k in firsts], [tw.scores[k] for k in firsts]))
        return results

    def predict_words_by_type(self, sequences: Sequence[Sequence[str]],
                              progress: bool = False) -> list[dict[str, TaggedWords]]:
        """:meth:`predict_words` as one IOB2 tag layer per entity type (other types' tags read ``O``),
        so a set can be scored on the types it annotates whatever else the model finds."""
        layers = []
        for tw in self.predict_words(sequences, progress):
            layers.append({t: TaggedWords([tag if tag.partition("-")[2] == t else "O" for tag in tw.tags],
                                          list(tw.scores)) for t in self.entity_types})
        return layers

    def _probabilities(self, logits: np.ndarray) -> np.ndarray:
        """The label probabilities of each word from its first piece's logits (one softmax over all labels)."""
        return softmax(logits)

    def _word_probs(self, sequences: Sequence[Sequence[str]], progress: bool = False) -> list[list[np.ndarray]]:
        """Per sequence, each word's label probabilities (:meth:`_probabilities`), one forward pass per window.

        Words are already cut by :func:`split_words`, each sequence one model input. A sequence longer
        than the model is cut into overlapping windows and each word takes the window where it has
        most context (:func:`best_window_per_word`).
        """
        cls_id, sep_id = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        windows: list[Window] = []
        per_seq: list[list[int]] = []
        for seq, pieces in enumerate(word_pieces_batch(self.tokenizer, sequences)):
            first = len(windows)
            if pieces:
                windows.extend(make_windows(seq, pieces, cls_id, sep_id, self.meta.max_length))
            per_seq.append(list(range(first, len(windows))))

        logits = self._run([w.input_ids for w in windows], progress=progress)
        probs = [self._probabilities(out[w.first_piece]) for out, w in zip(logits, windows)]
        results = []
        for words, window_ids in zip(sequences, per_seq):
            own = [windows[i] for i in window_ids]
            results.append([probs[window_ids[w_local]][offset]
                            for w_local, offset in best_window_per_word(own, len(words))])
        return results

    def _tagged(self, rows: Sequence[np.ndarray]) -> TaggedWords:
        """The most probable label of each word, and its probability."""
        labels = self.meta.labels
        best = [int(row.argmax()) for row in rows]
        return TaggedWords([labels[b] for b in best], [float(row[b]) for row, b in zip(rows, best)])

    def _tag(self, sequences: Sequence[Sequence[str]], progress: bool = False) -> list[TaggedWords]:
        """Tag words already cut by :func:`split_words`, each sequence as one model input."""
        return [self._tagged(rows) for rows in self._word_probs(sequences, progress)]

    def predict(self, texts: str | Sequence[str], types: Iterable[str] | None = None,
                guideline: str | Mapping[str, str] | None = None,
                abbreviations: bool | None = None, species_lexicon: bool | None = None
                ) -> Entities | list[Entities]:
        """Entities per text. A single string gives one :class:`Entities`; a list of strings a list of them.

        ``types`` keeps only entities of those types (``None``: every type the model finds, see
        :attr:`entity_types`); a type the model does not find raises :class:`InputError` naming it and
        listing the model's types, before any text is tagged (:func:`select_types`). ``guideline``
        (a multi-guideline model, :attr:`guidelines`) picks the annotation guideline to follow: a name
        for every type that has it (``"BioNLP"``), or ``{type: name}``; ``None``: the card's default.
        ``abbreviations`` resolves the abbreviations each text defines (an abbreviation takes its long
        form's type everywhere in the text: :mod:`biomedserve.runtime.abbreviations`); ``None``: the
        card's ``resolve_abbreviations``. ``species_lexicon`` merges the NCBI Taxonomy's species names
        the model missed or cut into its SPECIES entities (:mod:`biomedserve.runtime.species_lexicon`;
        before abbreviations are resolved); ``None``: the card's ``species_lexicon``.
        Empty or whitespace-only text yields no entities. Anything that is not a string raises
        :class:`InputError` naming its position, and so does a type the model does not return.
        """
        wanted = select_types(types, self.entity_types, self.name) or frozenset(self.entity_types)
        view = self.guideline_view(guideline)
        if species_lexicon and SPECIES not in self.entity_types:
            raise InputError(f"{self.name} finds no SPECIES (its types: {', '.join(self.entity_types)}): the "
                             "species lexicon adds to a species tagger")
        single = isinstance(texts, str)
        batch = [texts] if single else texts
        if not isinstance(batch, Sequence):
            raise InputError(f"expected a string or a list of strings, got {type(texts).__name__}")
        for index, text in enumerate(batch):
            if not isinstance(text, str):
                raise InputError(f"text {index} is {type(text).__name__}, expected str")
        words = [split_words(text) for text in batch]
        rows = self._sentence_rows(batch, words)
        results = [self._entities(text, ws, text_rows, wanted, view) for text, ws, text_rows in zip(batch, words, rows)]
        lexicon = self.uses_species_lexicon if species_lexicon is None else species_lexicon
        if lexicon and SPECIES in wanted:
            results = [add_lexicon_species(text, found, words=ws) for text, found, ws in zip(batch, results, words)]
        if self.resolves_abbreviations if abbreviations is None else abbreviations:
            results = [resolve_abbreviations(text, found) for text, found in zip(batch, results)]
        return results[0] if single else results

    def _entities(self, text: str, words: Sequence[Word], rows: Sequence[np.ndarray], types: Collection[str],
                  view: Mapping[str, str] | None = None) -> Entities:
        """Decode one text's word probabilities into entities of ``types``, in text order (``view``:
        the head per type, :meth:`_view`).

        Entity.score is the mean probability of its words' tags."""
        tagged = self._tagged(rows)
        decode = io_tags_to_spans if self.io_scheme else tags_to_spans
        return Entities(span_entity(text, words, span, tagged.scores) for span in decode(tagged.tags)
                        if span.label in types)

    def _tag_sentences(self, texts: Sequence[str], words: Sequence[Sequence[Word]]) -> list[TaggedWords]:
        """Tag each text's words sentence by sentence (see :meth:`_sentence_rows`)."""
        return [self._tagged(rows) for rows in self._sentence_rows(texts, words)]

    def _sentence_rows(self, texts: Sequence[str], words: Sequence[Sequence[Word]]) -> list[list[np.ndarray]]:
        """Each text's word probabilities, sentence by sentence (:func:`sentence_ranges`), all texts in one batch.

        Why: the model trained on single sentences, each starting right after ``[CLS]``. Windows cut
        across a document gave a sentence different context and positions at each place it occurred,
        and so different entities (the copies of a paragraph repeated in one text disagreed).
        A sentence alone is the same model input wherever it stands. The rows come back in document
        order, one list per text, so entities are decoded once over the whole text.
        """
        ranges = [sentence_ranges(text, ws) for text, ws in zip(texts, words)]
        # words are already cut: no resplit
        per_sentence = iter(self._word_probs([[ws[i].text for i in r] for ws, rs in zip(words, ranges) for r in rs]))
        return [[row for _ in rs for row in next(per_sentence)] for rs in ranges]


def span_entity(text: str, words: Sequence[Word], span: TagSpan, scores: Sequence[float]) -> Entity:
    """The entity of words ``[span.start, span.end)`` of ``text``; its score is the mean of ``scores`` over them."""
    start, end = words[span.start].start, words[span.end - 1].end
    score = float(np.mean(scores[span.start : span.end]))
    return Entity(start, end, text[start:end], span.label, round(score, 4))
