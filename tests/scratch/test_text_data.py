"""``data.text``: loading chapter 6's text, the sorted vocabulary, one-hot sequences, next-character windows.

Tests on the real file find it through ``DLFS_DATASETS`` or, failing that, the shared datasets folder next
to the repository (``../shared/datasets``), and are skipped when neither holds it. Everything else runs on
small temporary files. NumPy only.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data.text import (
    GENERATED_SHAKESPEARE,
    GENERATED_SHAKESPEARE_CHARS,
    Vocabulary,
    find_text,
    load_text,
    next_char_batch,
    one_hot_sequence,
    sequence_windows,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATED_MD5 = "fa6175dcfb631e98a9c2faa674465bbd"


@pytest.fixture(scope="module")
def shakespeare_path() -> Path:
    """The book's generated Shakespeare file, or skip."""
    candidates = []
    if os.environ.get("DLFS_DATASETS"):
        candidates.append(Path(os.environ["DLFS_DATASETS"]))
    candidates += [REPO_ROOT.parent / "shared" / "datasets", REPO_ROOT / "shared" / "datasets"]
    for candidate in candidates:
        found = find_text(GENERATED_SHAKESPEARE, candidate)
        if found is not None:
            return found
    pytest.skip(
        f"{GENERATED_SHAKESPEARE} not found: set DLFS_DATASETS to a datasets root containing text/ "
        f"(looked in {[str(c) for c in candidates]})"
    )


# ---------------------------------------------------------------------------------------------------------
# The real file
# ---------------------------------------------------------------------------------------------------------


def test_generated_shakespeare_facts(shakespeare_path: Path) -> None:
    assert hashlib.md5(shakespeare_path.read_bytes()).hexdigest() == GENERATED_MD5
    text = load_text(shakespeare_path)
    assert 95_000 <= len(text) <= 105_000  # "~100 KB"
    vocab = Vocabulary.from_text(text)
    assert vocab.size == GENERATED_SHAKESPEARE_CHARS == 62
    assert "".join(vocab.chars) == "\n !',-.:;?" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "abcdefghijklmnopqrstuvwxyz"
    indices = vocab.encode(text)
    assert indices.dtype == np.int64
    assert indices.shape == (len(text),)
    assert vocab.decode(indices) == text


def test_find_text_via_environment(shakespeare_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = shakespeare_path.parent.parent
    monkeypatch.setenv("DLFS_DATASETS", str(root))
    assert find_text() == shakespeare_path
    monkeypatch.setenv("DLFS_DATASETS", "")
    assert find_text() is None


def test_real_text_batches(shakespeare_path: Path) -> None:
    text = load_text(shakespeare_path)
    vocab = Vocabulary.from_text(text)
    indices = vocab.encode(text)
    inputs, targets = next_char_batch(indices, vocab.size, 25, 32, rng=np.random.default_rng(0))
    assert inputs.shape == targets.shape == (32, 25, 62)
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])


def test_vocabulary_order_same_in_fresh_processes(tmp_path: Path) -> None:
    """set() order changes with PYTHONHASHSEED (the book's vocabulary did); the vocabulary's must not."""
    text = tmp_path / "text.txt"
    text.write_text("To be, or not to be: that is the Question!\nWhether 'tis nobler in the mind (1603)?\n")
    code = (
        "import json, sys; from data.text import Vocabulary, load_text; text = load_text(sys.argv[1]); "
        "print(json.dumps([''.join(Vocabulary.from_text(text).chars), ''.join(set(text))]))"
    )
    ours, books = set(), set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", code, str(text)],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        vocabulary, book_order = json.loads(result.stdout)
        ours.add(vocabulary)
        books.add(book_order)
    assert len(books) > 1  # the book's set() order really differs between these processes
    assert len(ours) == 1  # the project's does not


# ---------------------------------------------------------------------------------------------------------
# Loading and finding (temporary files)
# ---------------------------------------------------------------------------------------------------------


def test_load_text_utf8(tmp_path: Path) -> None:
    file = tmp_path / "t.txt"
    file.write_bytes("héllo\nwörld".encode())
    assert load_text(file) == "héllo\nwörld"
    assert load_text(str(file)) == "héllo\nwörld"


def test_load_text_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"text file not found: .*nope\.txt.* does not exist"):
        load_text(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match=r"is a directory"):
        load_text(tmp_path)


def test_load_text_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"path must be a str or os.PathLike path; received int"):
        load_text(3)  # type: ignore[arg-type]
    file = tmp_path / "latin1.txt"
    file.write_bytes(b"caf\xe9")
    with pytest.raises(ValueError, match=r"must be UTF-8 text"):
        load_text(file)


def test_find_text_layouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DLFS_DATASETS", raising=False)
    (tmp_path / "text").mkdir()
    file = tmp_path / "text" / "a.txt"
    file.write_text("abc", encoding="utf-8")
    assert find_text("a.txt", tmp_path) == file  # datasets root
    assert find_text("a.txt", tmp_path / "text") == file  # the folder itself
    assert find_text("a.txt", file) == file  # the file itself
    assert find_text("b.txt", tmp_path) is None
    assert find_text("a.txt") is None  # no env
    monkeypatch.setenv("DLFS_DATASETS", str(tmp_path))
    assert find_text("a.txt") == file
    # an explicit path is authoritative: the environment is not consulted
    assert find_text("a.txt", tmp_path / "elsewhere") is None
    with pytest.raises(TypeError, match=r"name must be a non-empty file name"):
        find_text("")


# ---------------------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------------------


def test_vocabulary_sorted_and_deterministic() -> None:
    vocab = Vocabulary.from_text("hello world")
    assert vocab.chars == (" ", "d", "e", "h", "l", "o", "r", "w")
    assert vocab.size == len(vocab) == 8
    assert Vocabulary.from_text("world hello").chars == vocab.chars
    assert Vocabulary(["b", "a", "a"]).chars == ("a", "b")
    assert "h" in vocab
    assert "z" not in vocab


def test_encode_decode_round_trip() -> None:
    text = "To be, or not to be:\nthat is the question."
    vocab = Vocabulary.from_text(text)
    indices = vocab.encode(text)
    np.testing.assert_array_equal(
        indices[:3], [vocab.char_to_index["T"], vocab.char_to_index["o"], vocab.char_to_index[" "]]
    )
    assert vocab.decode(indices) == text
    assert vocab.decode(list(indices)) == text
    assert vocab.encode("").shape == (0,)
    assert vocab.decode(np.array([], dtype=np.int64)) == ""


def test_unknown_character_names_the_first() -> None:
    vocab = Vocabulary.from_text("abc")
    with pytest.raises(ValueError, match=r"'x' at position 2, which is not in the vocabulary of 3 characters"):
        vocab.encode("abxyz")


def test_vocabulary_bad_input() -> None:
    with pytest.raises(ValueError, match=r"at least one character"):
        Vocabulary.from_text("")
    with pytest.raises(TypeError, match=r"text must be a str; received int"):
        Vocabulary.from_text(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"single characters"):
        Vocabulary(["ab"])
    vocab = Vocabulary.from_text("abc")
    with pytest.raises(TypeError, match=r"text must be a str"):
        vocab.encode(b"abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"indices must be in \[0, 3\); received 3 at position 1"):
        vocab.decode(np.array([0, 3]))
    with pytest.raises(TypeError, match=r"indices must be integers"):
        vocab.decode(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"1-D"):
        vocab.decode(np.zeros((2, 2), dtype=np.int64))


# ---------------------------------------------------------------------------------------------------------
# One-hot and windows
# ---------------------------------------------------------------------------------------------------------


def test_one_hot_sequence() -> None:
    out = one_hot_sequence(np.array([2, 0, 1]), 4)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
    assert one_hot_sequence(np.array([[1, 2]]), 3, dtype=np.float32).shape == (1, 2, 3)
    assert one_hot_sequence(np.array([1]), 3, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match=r"indices must be in \[0, vocab_size=3\); received 3"):
        one_hot_sequence(np.array([0, 3]), 3)
    with pytest.raises(TypeError, match=r"floating-point dtype .*received int64"):
        one_hot_sequence(np.array([0]), 3, dtype=np.int64)
    with pytest.raises(TypeError, match=r"integer numpy.ndarray"):
        one_hot_sequence([0, 1], 3)


def test_sequence_windows_shifted_by_one() -> None:
    indices = np.arange(10, dtype=np.int64) * 3
    inputs, targets = sequence_windows(indices, 4)
    assert inputs.shape == targets.shape == (6, 4)  # starts 0..5 (a window needs 5 characters)
    np.testing.assert_array_equal(inputs[0], [0, 3, 6, 9])
    np.testing.assert_array_equal(targets[0], [3, 6, 9, 12])
    np.testing.assert_array_equal(targets[-1], [18, 21, 24, 27])  # the last character is only a target
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
    inputs, targets = sequence_windows(indices, 4, starts=np.array([5, 0]))
    np.testing.assert_array_equal(inputs[0], [15, 18, 21, 24])
    np.testing.assert_array_equal(targets[0], [18, 21, 24, 27])


def test_sequence_windows_errors() -> None:
    with pytest.raises(ValueError, match=r"empty text"):
        sequence_windows(np.array([], dtype=np.int64), 3)
    with pytest.raises(ValueError, match=r"at least sequence_length \+ 1 = 4 characters .*received 3"):
        sequence_windows(np.array([0, 1, 2]), 3)
    sequence_windows(np.array([0, 1, 2, 3]), 3)  # exactly one window
    with pytest.raises(ValueError, match=r"sequence_length must be an int >= 1; received 0"):
        sequence_windows(np.array([0, 1, 2]), 0)
    with pytest.raises(TypeError, match=r"sequence_length must be an int"):
        sequence_windows(np.array([0, 1, 2]), 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"starts must be in \[0, 1\].*received 2"):
        sequence_windows(np.array([0, 1, 2, 3, 4]), 3, starts=np.array([2]))
    with pytest.raises(TypeError, match=r"1-D integer numpy.ndarray"):
        sequence_windows("abc", 1)


def test_next_char_batch_random_is_seeded() -> None:
    text = "the quick brown fox jumps over the lazy dog"
    vocab = Vocabulary.from_text(text)
    indices = vocab.encode(text)
    a = next_char_batch(indices, vocab.size, 5, 8, rng=np.random.default_rng(7))
    b = next_char_batch(indices, vocab.size, 5, 8, rng=np.random.default_rng(7))
    c = next_char_batch(indices, vocab.size, 5, 8, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    inputs, targets = a
    assert inputs.shape == targets.shape == (8, 5, vocab.size)
    np.testing.assert_array_equal(inputs.sum(axis=2), 1.0)
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
    # every window is a real window of the text followed by its next character
    starts = np.random.default_rng(7).integers(0, len(text) - 5, size=8)
    for i, s in enumerate(starts):
        assert vocab.decode(inputs[i].argmax(axis=1)) == text[s : s + 5]
        assert vocab.decode(targets[i].argmax(axis=1)) == text[s + 1 : s + 6]


def test_next_char_batch_sequential() -> None:
    text = "abcdefghijk"
    vocab = Vocabulary.from_text(text)
    indices = vocab.encode(text)
    inputs, targets = next_char_batch(indices, vocab.size, 3, 3, first=1, dtype=np.float32)
    assert inputs.dtype == np.float32
    assert [vocab.decode(w.argmax(axis=1)) for w in inputs] == ["bcd", "efg", "hij"]
    assert [vocab.decode(w.argmax(axis=1)) for w in targets] == ["cde", "fgh", "ijk"]
    with pytest.raises(ValueError, match=r"last start 8"):
        next_char_batch(indices, vocab.size, 3, 3, first=2)


def test_next_char_batch_errors() -> None:
    indices = np.arange(5, dtype=np.int64)
    with pytest.raises(TypeError, match=r"numpy.random.Generator .*received int"):
        next_char_batch(indices, 5, 2, 2, rng=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"first applies to sequential batches only"):
        next_char_batch(indices, 5, 2, 2, rng=np.random.default_rng(0), first=1)
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1; received 0"):
        next_char_batch(indices, 5, 2, 0)
    with pytest.raises(ValueError, match=r"at least sequence_length \+ 1 = 6"):
        next_char_batch(indices, 5, 5, 1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"indices must be in \[0, vocab_size=4\)"):
        next_char_batch(indices, 4, 2, 1)
