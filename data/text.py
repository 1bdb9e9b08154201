"""Text for chapter 6's next-character models: loading, a deterministic vocabulary, one-hot windows.

Where the text comes from
-------------------------
The chapter trains on the ~100 KB machine-generated pseudo-Shakespeare file of the book's code repository
(99,993 characters, 62 distinct: ``\\n``, space, ``!',-.:;?``, ``A-Z``, ``a-z``). Like MNIST it is never part
of this repository: :func:`find_text` looks for a file name (e.g. :data:`GENERATED_SHAKESPEARE`)

1. in the ``path`` argument (the file itself, a folder holding it, or a datasets root with a ``text/``
   subfolder holding it); an explicit ``path`` is authoritative (the environment is then not consulted);
2. under ``$DLFS_DATASETS/text/`` (or directly in ``$DLFS_DATASETS``).

Vocabulary
----------
The book builds its vocabulary from ``set(text)``, whose order changes from one Python process to the next
(string hashing is randomised), so its character indices are not reproducible. :class:`Vocabulary` uses
the SORTED unique characters (by code point): the same text always gives the same indices.

Windows and targets
-------------------
For next-character training a window starting at position ``s`` takes the ``T = sequence_length``
characters ``text[s : s + T]`` as input and ``text[s + 1 : s + T + 1]`` as target: the target at every
time step is the NEXT character. A window therefore needs ``T + 1`` characters and the valid starts are
``0 .. len(text) - T - 1``. :func:`sequence_windows` gives the index windows, :func:`next_char_batch`
one-hot ``[N, T, V]`` input and target batches, with starts either drawn from a
``numpy.random.Generator`` (uniformly, with replacement: this project's choice) or sequential
(non-overlapping consecutive windows, ``s = first + i·T``). The book's trainers draw nothing: they slide
overlapping windows in order (``s_i = p + i``, ``p`` advancing by N), which ``scratch.RNNTrainer(windows="sliding")``
builds with :func:`sequence_windows`.

Bad arguments raise ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, wrong value)
naming the argument, what was expected and what was received. This module imports neither ``torch``
nor ``scratch``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ._checks import check_pathlike, check_size, describe
from .mnist import ENV_DATASETS

__all__ = [
    "GENERATED_SHAKESPEARE",
    "GENERATED_SHAKESPEARE_CHARS",
    "TINY_SHAKESPEARE",
    "Vocabulary",
    "find_text",
    "load_text",
    "next_char_batch",
    "one_hot_sequence",
    "sequence_windows",
]

#: The book's chapter 6 text (~100 KB, 62 distinct characters).
GENERATED_SHAKESPEARE: Final = "dlfs-generated-shakespeare.txt"
#: Its number of distinct characters.
GENERATED_SHAKESPEARE_CHARS: Final = 62
#: char-rnn's tiny Shakespeare (1,115,394 characters, 65 distinct); not used by the book.
TINY_SHAKESPEARE: Final = "tinyshakespeare.txt"


def load_text(path: str | os.PathLike[str]) -> str:
    """The whole file at ``path`` decoded as UTF-8 (newlines kept as they are in the file)."""
    file = check_pathlike(path, "path")
    if not file.is_file():
        what = "is a directory, not a file" if file.is_dir() else "does not exist"
        raise FileNotFoundError(f"text file not found: {os.fspath(path)!r} {what}; expected a UTF-8 text file")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{os.fspath(path)!r} must be UTF-8 text; decoding failed at byte {err.start}") from err


def _candidates(directory: Path, name: str) -> tuple[Path, ...]:
    return (directory, directory / name, directory / "text" / name)


def find_text(name: str = GENERATED_SHAKESPEARE, path: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the path of the text file ``name``, or ``None`` if it is not found.

    Looks at ``path`` if given (and ONLY there): the file itself, a folder holding ``name``, or a datasets
    root holding ``text/<name>``. Otherwise looks in ``$DLFS_DATASETS/text/`` and ``$DLFS_DATASETS``
    (an empty variable counts as unset).
    """
    if not isinstance(name, str) or not name or os.sep in name or (os.altsep and os.altsep in name):
        raise TypeError(
            f"name must be a non-empty file name such as {GENERATED_SHAKESPEARE!r}; received {describe(name)}"
        )
    if path is not None:
        root = check_pathlike(path, "path")
        candidates = _candidates(root, name) if root.is_dir() else (root,)
        return next((c for c in candidates if c.is_file()), None)
    value = os.environ.get(ENV_DATASETS, "")
    if value:
        root = Path(value).expanduser()
        for candidate in (root / "text" / name, root / name):
            if candidate.is_file():
                return candidate
    return None


class Vocabulary:
    """Characters ↔ indices, in SORTED order (by code point), so indices never depend on ``set`` order.

    ``Vocabulary.from_text(text)`` (or ``Vocabulary(text)``) takes the unique characters of ``text``;
    ``Vocabulary(chars)`` accepts any iterable of single characters (duplicates are removed, order
    ignored). ``encode`` raises ``ValueError`` naming the first character that is not in the vocabulary.
    """

    def __init__(self, chars: Any) -> None:
        if isinstance(chars, str):
            unique = set(chars)
        else:
            try:
                items = list(chars)
            except TypeError:
                raise TypeError(
                    f"chars must be a str or an iterable of single characters; received {describe(chars)}"
                ) from None
            for item in items:
                if not isinstance(item, str) or len(item) != 1:
                    raise TypeError(f"chars must contain single characters; received {describe(item)}")
            unique = set(items)
        if not unique:
            raise ValueError("chars must contain at least one character; received an empty text")
        self.chars: tuple[str, ...] = tuple(sorted(unique))
        self.char_to_index: dict[str, int] = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """The vocabulary of the unique characters of ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; received {describe(text)}")
        return cls(text)

    @property
    def size(self) -> int:
        """The number of characters V."""
        return len(self.chars)

    def __len__(self) -> int:
        return self.size

    def __contains__(self, char: object) -> bool:
        return char in self.char_to_index

    def __repr__(self) -> str:
        return f"Vocabulary(size={self.size}, chars={''.join(self.chars)!r})"

    def encode(self, text: str) -> npt.NDArray[np.int64]:
        """The indices of the characters of ``text`` (int64, shape ``[len(text)]``)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; received {describe(text)}")
        lookup = self.char_to_index
        try:
            return np.fromiter((lookup[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            char = err.args[0]
            position = text.index(char)
            raise ValueError(
                f"text contains {char!r} at position {position}, which is not in the vocabulary of "
                f"{self.size} characters"
            ) from None

    def decode(self, indices: Any) -> str:
        """The text of the indices ``indices`` (a 1-D integer array or sequence, values in ``[0, V)``)."""
        arr = np.asarray(indices)
        if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
            raise TypeError(f"indices must be integers; received {describe(indices)}")
        if arr.ndim != 1:
            raise ValueError(f"indices must be 1-D [T]; received shape {arr.shape}")
        arr = arr.astype(np.int64)
        bad = (arr < 0) | (arr >= self.size)
        if bad.any():
            first = int(np.argmax(bad))
            raise ValueError(f"indices must be in [0, {self.size}); received {int(arr[first])} at position {first}")
        return "".join(self.chars[i] for i in arr.tolist())


def _check_indices(indices: Any, name: str = "indices") -> npt.NDArray[np.int64]:
    if not isinstance(indices, np.ndarray) or indices.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must be a 1-D integer numpy.ndarray (from Vocabulary.encode); received {describe(indices)}"
        )
    if indices.ndim != 1:
        raise ValueError(f"{name} must be 1-D [T]; received shape {indices.shape}")
    if indices.size == 0:
        raise ValueError(f"{name} must be non-empty; received an empty text (shape {indices.shape})")
    return indices.astype(np.int64, copy=False)


def _check_dtype(dtype: Any) -> np.dtype[Any]:
    try:
        out: np.dtype[Any] = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a floating-point dtype; received {describe(dtype)}") from None
    if out.kind != "f":
        raise TypeError(f"dtype must be a floating-point dtype (float32 or float64); received {out}")
    return out


def one_hot_sequence(indices: Any, vocab_size: int, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    """One-hot rows for a sequence of indices: ``[T]`` → ``[T, V]`` (or any ``[...]`` → ``[..., V]``).

    ``out[..., t, v] = 1`` if ``indices[..., t] == v`` else 0.
    """
    vocab_size = check_size(vocab_size, "vocab_size", minimum=1)
    out_dtype = _check_dtype(dtype)
    if not isinstance(indices, np.ndarray) or indices.dtype.kind not in "iu":
        raise TypeError(f"indices must be an integer numpy.ndarray; received {describe(indices)}")
    if indices.size and (indices.min() < 0 or indices.max() >= vocab_size):
        bad = int(indices.min()) if indices.min() < 0 else int(indices.max())
        raise ValueError(f"indices must be in [0, vocab_size={vocab_size}); received {bad}")
    return np.eye(vocab_size, dtype=out_dtype)[indices]


def _window_count(n_chars: int, sequence_length: int) -> int:
    if n_chars < sequence_length + 1:
        raise ValueError(
            f"text must have at least sequence_length + 1 = {sequence_length + 1} characters for one window "
            f"(inputs plus the next-character target); received {n_chars}"
        )
    return n_chars - sequence_length


def sequence_windows(
    indices: Any,
    sequence_length: int,
    starts: Any = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Index windows and their next-character targets: ``(inputs [N, T], targets [N, T])``.

    ``inputs[i] = indices[s_i : s_i + T]`` and ``targets[i] = indices[s_i + 1 : s_i + T + 1]`` with
    ``T = sequence_length``. ``starts`` (1-D integers in ``[0, len(indices) - T - 1]``) picks the windows;
    ``None`` takes every start ``0, 1, ..., len(indices) - T - 1`` (stride 1, overlapping).
    """
    data = _check_indices(indices)
    length = check_size(sequence_length, "sequence_length", minimum=1)
    count = _window_count(data.size, length)
    if starts is None:
        start_arr = np.arange(count, dtype=np.int64)
    else:
        start_arr = np.asarray(starts)
        if start_arr.dtype.kind not in "iu" or start_arr.ndim != 1:
            raise TypeError(f"starts must be a 1-D integer array; received {describe(starts)}")
        if start_arr.size and (start_arr.min() < 0 or start_arr.max() > count - 1):
            bad = int(start_arr.min()) if start_arr.min() < 0 else int(start_arr.max())
            raise ValueError(f"starts must be in [0, {count - 1}] (len(indices) - sequence_length - 1); received {bad}")
        start_arr = start_arr.astype(np.int64)
    offsets = start_arr[:, None] + np.arange(length, dtype=np.int64)[None, :]
    return data[offsets], data[offsets + 1]


def next_char_batch(
    indices: Any,
    vocab_size: int,
    sequence_length: int,
    batch_size: int,
    *,
    rng: np.random.Generator | None = None,
    first: int = 0,
    dtype: npt.DTypeLike = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """One next-character training batch: one-hot ``(inputs [N, T, V], targets [N, T, V])``.

    Window i starts at ``s_i``; its inputs are the characters ``s_i .. s_i + T - 1`` and its targets the
    characters ``s_i + 1 .. s_i + T`` (each target is the next character of its input). The starts are

    * random (``rng`` given): ``s_i = rng.integers(0, len(indices) - T, size=N)``, uniform with replacement;
      ``rng`` is the only source of randomness, so the same seeded Generator gives the same batches. (The
      book's chapter 6 ``RNNTrainer`` does not draw: it slides, ``s_i = p + i`` with ``p`` advancing by N
      each iteration from 0, overlapping windows one character apart within a batch.);
    * sequential (``rng=None``): ``s_i = first + i·T``, consecutive non-overlapping windows; all of them
      must fit (``first + (N - 1)·T + T + 1 <= len(indices)``), otherwise ``ValueError``.
    """
    data = _check_indices(indices)
    vocab_size = check_size(vocab_size, "vocab_size", minimum=1)
    length = check_size(sequence_length, "sequence_length", minimum=1)
    batch = check_size(batch_size, "batch_size", minimum=1)
    first = check_size(first, "first", minimum=0)
    count = _window_count(data.size, length)
    if data.min() < 0 or data.max() >= vocab_size:
        bad = int(data.min()) if data.min() < 0 else int(data.max())
        raise ValueError(f"indices must be in [0, vocab_size={vocab_size}); received {bad}")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"rng must be a numpy.random.Generator (np.random.default_rng(seed)) or None; received {describe(rng)}"
            )
        if first != 0:
            raise ValueError(f"first applies to sequential batches only (rng=None); received first={first} with an rng")
        starts = rng.integers(0, count, size=batch, dtype=np.int64)
    else:
        last = first + (batch - 1) * length
        if last > count - 1:
            raise ValueError(
                f"sequential batch needs first + (batch_size - 1) * sequence_length <= len(indices) - "
                f"sequence_length - 1 = {count - 1}; received first={first}, batch_size={batch}, "
                f"sequence_length={length} (last start {last})"
            )
        starts = first + length * np.arange(batch, dtype=np.int64)
    inputs, targets = sequence_windows(data, length, starts)
    return one_hot_sequence(inputs, vocab_size, dtype), one_hot_sequence(targets, vocab_size, dtype)
