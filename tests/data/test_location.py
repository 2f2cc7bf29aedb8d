"""Finding the data: resolve_data_dir, get_dataset and DatasetSpec.path / load."""

from __future__ import annotations

from pathlib import Path

import pytest

from biomedserve.data import DATASETS, DatasetSpec, TaggedSentence, get_dataset, resolve_data_dir
from biomedserve.data.location import ENV_VAR
from biomedserve.errors import BiomedserveError, DataNotFoundError

BLURB_NAMES = [
    "BC5-chem", "BC5-disease", "NCBI-disease", "BC2GM", "JNLPBA", "EBM-PICO",
    "ChemProt", "DDI", "GAD", "BIOSSES", "HoC", "PubMedQA", "BioASQ",
]


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    """Every test starts without $BIOMEDSERVE_DATA, whatever the caller's shell has."""
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch) -> Path:
    """cwd is an empty directory with no data/blurb here and no shared/blurb beside it."""
    cwd = tmp_path / "project"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def make_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


# ------------------------------------------------------------------------------------------------
# resolve_data_dir
# ------------------------------------------------------------------------------------------------


class TestResolveDataDir:
    def test_explicit_dir(self, tmp_path, empty_cwd):
        data = make_dir(tmp_path / "explicit")
        assert resolve_data_dir(data) == data
        assert resolve_data_dir(str(data)) == data
        assert isinstance(resolve_data_dir(str(data)), Path)

    def test_explicit_wins_over_env_and_defaults(self, tmp_path, monkeypatch, empty_cwd):
        explicit = make_dir(tmp_path / "explicit")
        monkeypatch.setenv(ENV_VAR, str(make_dir(tmp_path / "from_env")))
        make_dir(empty_cwd / "data" / "blurb")
        assert resolve_data_dir(explicit) == explicit

    def test_explicit_wins_over_broken_env(self, tmp_path, monkeypatch, empty_cwd):
        explicit = make_dir(tmp_path / "explicit")
        monkeypatch.setenv(ENV_VAR, str(tmp_path / "does-not-exist"))
        assert resolve_data_dir(explicit) == explicit

    def test_env_used_without_explicit(self, tmp_path, monkeypatch, empty_cwd):
        from_env = make_dir(tmp_path / "from_env")
        monkeypatch.setenv(ENV_VAR, str(from_env))
        assert resolve_data_dir() == from_env
        assert resolve_data_dir(None) == from_env

    def test_env_wins_over_defaults(self, tmp_path, monkeypatch, empty_cwd):
        from_env = make_dir(tmp_path / "from_env")
        make_dir(empty_cwd / "data" / "blurb")
        make_dir(tmp_path / "shared" / "blurb")
        monkeypatch.setenv(ENV_VAR, str(from_env))
        assert resolve_data_dir() == from_env

    def test_empty_env_is_ignored(self, tmp_path, monkeypatch, empty_cwd):
        make_dir(empty_cwd / "data" / "blurb")
        monkeypatch.setenv(ENV_VAR, "")
        assert resolve_data_dir() == Path("data/blurb")

    def test_missing_explicit_raises_naming_path(self, tmp_path, empty_cwd):
        missing = tmp_path / "nowhere" / "blurb"
        with pytest.raises(DataNotFoundError) as excinfo:
            resolve_data_dir(missing)
        assert str(missing) in str(excinfo.value)
        assert "--data-dir" in str(excinfo.value)

    def test_explicit_file_is_not_a_dir(self, tmp_path, empty_cwd):
        a_file = tmp_path / "blurb.tsv"
        a_file.write_text("x\tO\n")
        with pytest.raises(DataNotFoundError) as excinfo:
            resolve_data_dir(a_file)
        assert str(a_file) in str(excinfo.value)

    def test_missing_explicit_raises_even_if_defaults_exist(self, tmp_path, empty_cwd):
        make_dir(empty_cwd / "data" / "blurb")
        with pytest.raises(DataNotFoundError):
            resolve_data_dir(tmp_path / "nowhere")

    def test_missing_env_raises_naming_path_and_variable(self, tmp_path, monkeypatch, empty_cwd):
        missing = tmp_path / "env-nowhere"
        monkeypatch.setenv(ENV_VAR, str(missing))
        make_dir(empty_cwd / "data" / "blurb")  # no silent fallback to the defaults
        with pytest.raises(DataNotFoundError) as excinfo:
            resolve_data_dir()
        assert str(missing) in str(excinfo.value)
        assert ENV_VAR in str(excinfo.value)

    def test_default_data_blurb(self, empty_cwd):
        make_dir(empty_cwd / "data" / "blurb")
        got = resolve_data_dir()
        assert got.resolve() == (empty_cwd / "data" / "blurb").resolve()

    def test_default_shared_blurb(self, tmp_path, empty_cwd):
        shared = make_dir(tmp_path / "shared" / "blurb")
        got = resolve_data_dir()
        assert got.resolve() == shared.resolve()

    def test_data_blurb_preferred_over_shared(self, tmp_path, empty_cwd):
        make_dir(tmp_path / "shared" / "blurb")
        local = make_dir(empty_cwd / "data" / "blurb")
        assert resolve_data_dir().resolve() == local.resolve()

    def test_nothing_found_names_both_candidates(self, tmp_path, empty_cwd):
        with pytest.raises(DataNotFoundError) as excinfo:
            resolve_data_dir()
        message = str(excinfo.value)
        assert "data/blurb" in message
        assert "shared/blurb" in message
        # The candidates are named as absolute paths the user can check.
        assert str((empty_cwd / "data" / "blurb").resolve()) in message
        assert str((tmp_path / "shared" / "blurb").resolve()) in message
        assert ENV_VAR in message
        assert isinstance(excinfo.value, BiomedserveError)


# ------------------------------------------------------------------------------------------------
# registry: get_dataset, DatasetSpec.path / load
# ------------------------------------------------------------------------------------------------


class TestRegistry:
    def test_known_datasets(self):
        assert list(DATASETS) == BLURB_NAMES
        for name in BLURB_NAMES:
            spec = get_dataset(name)
            assert isinstance(spec, DatasetSpec)
            assert spec.name == name

    def test_unknown_dataset_lists_known(self):
        with pytest.raises(DataNotFoundError) as excinfo:
            get_dataset("nope")
        message = str(excinfo.value)
        assert "nope" in message
        for name in BLURB_NAMES:
            assert name in message

    def test_lookup_is_case_sensitive(self):
        with pytest.raises(DataNotFoundError):
            get_dataset("bc5-chem")

    def test_unknown_split_lists_available(self, empty_cwd):
        """An unknown split name is refused before any data directory is needed."""
        with pytest.raises(DataNotFoundError) as excinfo:
            get_dataset("EBM-PICO").path("validation")
        message = str(excinfo.value)
        assert "EBM-PICO" in message and "validation" in message
        assert "dev" in message and "test" in message

    def test_unstaged_optional_split_says_how_to_get_it(self):
        """EBM-PICO's train split is not staged: a clear error pointing at MANIFEST.md."""
        spec = get_dataset("EBM-PICO")
        assert spec.available_splits() == ["dev", "test"]
        with pytest.raises(DataNotFoundError) as excinfo:
            spec.path("train")
        message = str(excinfo.value)
        assert "EBM-PICO" in message and "train" in message and "MANIFEST" in message

    def test_missing_split_with_data_dir(self, tmp_path):
        with pytest.raises(DataNotFoundError) as excinfo:
            get_dataset("EBM-PICO").load("train", tmp_path)
        assert str(tmp_path / "EBM-PICO" / "train.tsv") in str(excinfo.value)

    def test_unknown_split_name(self, tmp_path):
        with pytest.raises(DataNotFoundError) as excinfo:
            get_dataset("BC5-chem").path("validation", tmp_path)
        assert "validation" in str(excinfo.value)
        assert "train, dev, test" in str(excinfo.value)

    @pytest.mark.parametrize(("name", "split", "filename"), [
        ("BC5-chem", "train", "train.tsv"),
        ("EBM-PICO", "dev", "dev.tsv"),
        ("PubMedQA", "test", "test_set.json"),
        ("HoC", "dev", "dev.tsv"),
    ])
    def test_missing_dataset_folder_names_path(self, tmp_path, name, split, filename):
        data = make_dir(tmp_path / "blurb")
        with pytest.raises(DataNotFoundError) as excinfo:
            get_dataset(name).path(split, data)
        message = str(excinfo.value)
        assert str(data / name / filename) in message
        assert name in message and split in message

    def test_missing_file_in_existing_folder(self, tmp_path):
        data = make_dir(tmp_path / "blurb")
        make_dir(data / "BC5-chem")
        (data / "BC5-chem" / "train.tsv").write_text("a\tO\n")
        with pytest.raises(DataNotFoundError) as excinfo:
            get_dataset("BC5-chem").path("dev", data)
        assert str(data / "BC5-chem" / "dev.tsv") in str(excinfo.value)

    def test_missing_dataset_via_env(self, tmp_path, monkeypatch, empty_cwd):
        data = make_dir(tmp_path / "blurb")
        monkeypatch.setenv(ENV_VAR, str(data))
        with pytest.raises(DataNotFoundError) as excinfo:
            get_dataset("GAD").path("train")
        assert str(data / "GAD" / "train.tsv") in str(excinfo.value)

    def test_missing_data_dir_propagates(self, tmp_path):
        with pytest.raises(DataNotFoundError) as excinfo:
            get_dataset("GAD").path("train", tmp_path / "nowhere")
        assert str(tmp_path / "nowhere") in str(excinfo.value)

    def test_path_and_load_use_explicit_dir_over_env(self, tmp_path, monkeypatch, empty_cwd):
        data = make_dir(tmp_path / "blurb")
        make_dir(data / "BC5-chem")
        (data / "BC5-chem" / "dev.tsv").write_text("Selegiline\tB\n-\tO\n\ninduced\tO\n")
        monkeypatch.setenv(ENV_VAR, str(make_dir(tmp_path / "other")))
        spec = get_dataset("BC5-chem")
        assert spec.path("dev", data) == data / "BC5-chem" / "dev.tsv"
        assert spec.load("dev", data) == [
            TaggedSentence(["Selegiline", "-"], ["B", "O"]),
            TaggedSentence(["induced"], ["O"]),
        ]

    def test_load_via_env(self, tmp_path, monkeypatch, empty_cwd):
        data = make_dir(tmp_path / "blurb")
        make_dir(data / "BioASQ")
        (data / "BioASQ" / "test.tsv").write_text("q1\tIs it?\tIt is.\tyes\n")
        monkeypatch.setenv(ENV_VAR, str(data))
        [instance] = get_dataset("BioASQ").load("test")
        assert (instance.id, instance.label) == ("q1", "yes")
