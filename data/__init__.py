"""Dataset loaders and batching helpers shared by ``scratch`` and ``torch_impl`` (NumPy only).

* :mod:`data.boston`: Boston housing, standardised and split as in the book (needs ``mlxtend``,
  ``pip install dlfs-parity[data]``).
* :mod:`data.mnist`: full MNIST from the IDX files (found via an argument, ``DLFS_MNIST_DIR`` or
  ``DLFS_DATASETS``; never stored in the repository; :func:`download_mnist` fetches them), mlxtend's
  5000-image subset as an offline fallback, and the book's preparation steps.
* :mod:`data.text`: chapter 6's text (found via an argument or ``DLFS_DATASETS/text/``), a deterministic
  (sorted) character vocabulary, one-hot sequences and next-character windows/batches.
* :mod:`data.batching`: one-hot labels, epoch permutations and mini-batches, so that both trainers see
  identical batches.
* ``data._checks`` (private): the argument checks and their messages, shared by ``data``, ``scratch`` and
  ``torch_impl`` (each twin adds only its array checks), and the convolution geometry both twins use.

This package imports neither ``torch`` nor ``scratch``; ``mlxtend`` is imported lazily, only by the
loaders that need it.
"""

from .batching import batch_slices, epoch_order, iterate_batches, one_hot
from .boston import load_boston, load_boston_raw, sklearn_style_split_indices
from .mnist import (
    BOOK_NORMALIZE_MEAN,
    BOOK_NORMALIZE_STD,
    DEFAULT_MNIST_URL,
    MNIST_FILES,
    MNIST_MD5,
    MNIST_TEST_CLASS_COUNTS,
    MNIST_TRAIN_CLASS_COUNTS,
    MNIST_TRAIN_PIXEL_MEAN,
    MNIST_TRAIN_PIXEL_MEAN_UNIT,
    MNIST_TRAIN_PIXEL_STD,
    MNIST_TRAIN_PIXEL_STD_UNIT,
    MnistData,
    download_mnist,
    find_mnist_dir,
    load_mnist,
    load_mnist_book,
    load_mnist_full,
    load_mnist_subset,
    normalize_torchvision_style,
    read_idx,
    scale_to_minus_one_one,
    scale_to_unit,
    standardize_global,
)
from .text import (
    GENERATED_SHAKESPEARE,
    GENERATED_SHAKESPEARE_CHARS,
    TINY_SHAKESPEARE,
    Vocabulary,
    find_text,
    load_text,
    next_char_batch,
    one_hot_sequence,
    sequence_windows,
)

__all__ = [
    "BOOK_NORMALIZE_MEAN",
    "BOOK_NORMALIZE_STD",
    "DEFAULT_MNIST_URL",
    "GENERATED_SHAKESPEARE",
    "GENERATED_SHAKESPEARE_CHARS",
    "MNIST_FILES",
    "MNIST_MD5",
    "MNIST_TEST_CLASS_COUNTS",
    "MNIST_TRAIN_CLASS_COUNTS",
    "MNIST_TRAIN_PIXEL_MEAN",
    "MNIST_TRAIN_PIXEL_MEAN_UNIT",
    "MNIST_TRAIN_PIXEL_STD",
    "MNIST_TRAIN_PIXEL_STD_UNIT",
    "TINY_SHAKESPEARE",
    "MnistData",
    "Vocabulary",
    "batch_slices",
    "download_mnist",
    "epoch_order",
    "find_mnist_dir",
    "find_text",
    "iterate_batches",
    "load_boston",
    "load_boston_raw",
    "load_mnist",
    "load_mnist_book",
    "load_mnist_full",
    "load_mnist_subset",
    "load_text",
    "next_char_batch",
    "normalize_torchvision_style",
    "one_hot",
    "one_hot_sequence",
    "read_idx",
    "scale_to_minus_one_one",
    "scale_to_unit",
    "sequence_windows",
    "sklearn_style_split_indices",
    "standardize_global",
]
