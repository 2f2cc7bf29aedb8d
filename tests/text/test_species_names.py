"""The NCBI Taxonomy species lexicon: what it matches, and what it leaves (the module states both)."""

from __future__ import annotations

from biomedserve.text.species_names import cache_path, find_species, lexicon


def names(text: str) -> list[str]:
    return [text[start:end] for start, end in find_species(text)]


def test_binomials_their_abbreviations_and_lower_case_common_names():
    text = "Burkholderia mallei (B. mallei) in potato, house mouse and Caenorhabditis elegans; S.aureus too."
    assert names(text) == ["Burkholderia mallei", "B. mallei", "potato", "house mouse", "Caenorhabditis elegans",
                           "S.aureus"]


def test_common_names_match_only_in_lower_case_and_placeholders_never():
    assert names("Fisher's exact test") == []  # a capitalised common name is a surname, not the fisher
    assert names("the fisher") == ["fisher"]
    assert names("Streptomyces sp. 12 and an uncultured bacterium") == []
    assert names("T cells and B cells") == []


def test_offsets_index_the_text_given_and_empty_text_has_none():
    text = "  Infection\twith\n Escherichia   coli  "
    (start, end), = find_species(text)
    assert text[start:end] == "Escherichia   coli"
    assert find_species("") == [] and find_species("   ") == []


def test_the_lexicon_is_built_once_into_the_cache_and_memory_mapped():
    trie = lexicon()
    assert cache_path().is_file() and "Homo sapiens" in trie and "E . coli" in trie
    assert lexicon() is trie
