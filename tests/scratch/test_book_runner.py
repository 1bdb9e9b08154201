"""The book runner's quick configurations, working folders, book-library runs and verdicts, on small synthetic
notebooks (a temporary book repository and manifest), plus its float32 comparison rule and drift targets."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parity_tests.book import __main__ as cli
from parity_tests.book.manifest import ManifestError, load_manifest, load_notebook, source_sha
from parity_tests.book.report import drift_check, erratum_anchor
from parity_tests.book.runner import (
    float32_ulps_apart,
    outputs_agree,
    reconcile,
    run_notebook,
    run_pair,
)

from .test_book import requires_book


def _book(tmp_path: Path, cells: list[tuple[str, str]], rules: dict[str, Any], **extra: Any) -> Path:
    """A one-notebook book repository in ``tmp_path``: ``cells`` are (source, saved stdout); returns the manifest."""
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "source": source,
                "outputs": [{"output_type": "stream", "name": "stdout", "text": out}],
            }
            for source, out in cells
        ]
    }
    (tmp_path / "nb.ipynb").write_text(json.dumps(notebook))
    path = tmp_path / "notebooks.json"
    entry = {"path": "nb.ipynb", "module": extra.pop("module", "scratch.book.nb"), "cells": rules, **extra}
    path.write_text(json.dumps({"notebooks": {"nb": entry}}))
    return path


# ---------------------------------------------------------------------------------------------------------
# Printed float32 values
# ---------------------------------------------------------------------------------------------------------


def test_a_full_precision_float32_may_differ_by_one_unit_in_the_last_place() -> None:
    book, here = 437.97467041015625, 437.9747009277344  # the Boston model's first loss: torch 1.x and 2.13
    assert float32_ulps_apart(book, here) == 1
    assert outputs_agree(f"The loss after 0 epochs was {book}\n", f"The loss after 0 epochs was {here}\n")
    two_apart = float(np.nextafter(np.float32(here), np.float32(np.inf)))
    assert float32_ulps_apart(book, two_apart) == 2
    assert not outputs_agree(f"{book}\n", f"{two_apart}\n")
    assert float32_ulps_apart(0.1, 0.1000000000000001) is None  # float64 values are not float32 values
    assert not outputs_agree("0.123456789\n", "0.123456788\n")  # 9 digits of a float64: equal as printed only
    assert float32_ulps_apart(-1.5, 1.5) is None


# ---------------------------------------------------------------------------------------------------------
# Quick edits, config cells, partial definitions, book-mode replacements
# ---------------------------------------------------------------------------------------------------------


def test_quick_edits_apply_in_quick_mode_only_and_must_match_once(tmp_path: Path) -> None:
    cell = "epochs = 50\nprint(epochs * 2)"
    manifest = _book(tmp_path, [(cell, "100\n")], {"0": {"kind": "config", "sha": source_sha(cell),
                                                         "quick_edits": [["epochs = 50", "epochs = 2"]]}})  # fmt: skip
    full = run_notebook("nb", root=tmp_path, manifest=manifest)
    assert (full.cells[0].ours, full.cells[0].status, full.cells[0].action) == ("100\n", "match", "unchanged")
    quick = run_notebook("nb", root=tmp_path, manifest=manifest, quick=True)
    assert quick.cells[0].ours == "4\n"
    assert quick.cells[0].action == "unchanged (quick edits)"
    spec, _ = load_notebook("nb", root=tmp_path, manifest=manifest)
    assert spec.short_in_quick

    bad = _book(tmp_path, [(cell, "")], {"0": {"kind": "config", "sha": source_sha(cell),
                                               "quick_edits": [["epochs", "n"]]}})  # fmt: skip
    with pytest.raises(ManifestError, match=r"occur exactly once in the cell; 'epochs' occurs 2 times"):
        run_notebook("nb", root=tmp_path, manifest=bad, quick=True)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"kind": "config"}, r"needs 'quick_edits'"),
        ({"kind": "config", "quick_edits": [["a"]]}, r"list of \[old text, new text\] pairs"),
        ({"kind": "config", "quick_edits": [["", "b"]]}, r"list of \[old text, new text\] pairs"),
        ({"kind": "display", "reason": "r", "book_replace": "import x"}, r"'book_replace' is for definition and data"),
        ({"kind": "data", "replace": "a = f()", "drop_imports": "lincoln"}, r"'drop_imports' must be a package"),
        ({"kind": "definition", "replace": "import x", "book_replace": "x = 1"}, r"import statements only"),
    ],
)
def test_malformed_new_rules_are_named(tmp_path: Path, rule: dict[str, Any], message: str) -> None:
    manifest = _book(tmp_path, [("x = 1", "")], {"0": {"sha": source_sha("x = 1"), **rule}})
    with pytest.raises(ManifestError, match=message):
        load_manifest(manifest)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"book_code": False}, r"false needs a 'book_code_reason'"),
        ({"library": "numpy"}, r"'library' must be 'lincoln'"),
        ({"book_code_drops": "(unclosed"}, r"'book_code_drops' must be a regular expression"),
        ({"files": {"../up.txt": {"dataset": "text/a.txt"}}}, r"relative path inside the working folder"),
        ({"files": {"a.txt": {"dataset": "text/a.txt", "quick_chars": 0}}}, r"'quick_chars' must be a positive int"),
        ({"colour": "red"}, r"unknown notebook keys \['colour'\]"),
    ],
)
def test_malformed_notebook_keys_are_named(tmp_path: Path, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        load_manifest(_book(tmp_path, [("x = 1", "")], {}, **extra))


def test_drop_imports_replaces_only_the_packages_imports(tmp_path: Path) -> None:
    cell = "from bookpkg.layers import Dense\nimport math\nseed = math.floor(2.5)\nprint(Dense(seed))"
    rule = {"kind": "definition", "sha": source_sha(cell), "replace": "from builtins import str as Dense",
            "drop_imports": "bookpkg"}  # fmt: skip
    manifest = _book(tmp_path, [(cell, "2\n")], {"0": rule})
    run = run_notebook("nb", root=tmp_path, manifest=manifest)
    assert (run.cells[0].ours, run.cells[0].status, run.cells[0].action) == ("2\n", "match", "definition (imports)")
    book = run_notebook("nb", root=tmp_path, manifest=manifest, mode="book")  # the book's own cell: no bookpkg here
    assert "No module named 'bookpkg'" in book.cells[0].error


def test_book_replace_is_what_book_mode_runs(tmp_path: Path) -> None:
    cell = "data = download()"
    rule = {"kind": "data", "sha": source_sha(cell), "replace": "from math import pi\ndata = abs(-pi)",
            "book_replace": "from math import e\ndata = abs(-e)"}  # fmt: skip
    manifest = _book(tmp_path, [(cell, ""), ("print(round(data, 3))", "3.142\n")], {"0": rule})
    assert run_notebook("nb", root=tmp_path, manifest=manifest).cells[1].status == "match"
    assert run_notebook("nb", root=tmp_path, manifest=manifest, mode="book").cells[1].ours == "2.718\n"


# ---------------------------------------------------------------------------------------------------------
# Working folder, the book's library, global state
# ---------------------------------------------------------------------------------------------------------


def test_files_are_copied_into_a_working_folder_and_shortened_in_quick_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datasets = tmp_path / "datasets"
    (datasets / "text").mkdir(parents=True)
    (datasets / "text" / "t.txt").write_text("abcdefghij" * 10)
    monkeypatch.setenv("DLFS_DATASETS", str(datasets))
    cell = "print(len(open('data/input.txt').read()))"
    manifest = _book(tmp_path, [(cell, "100\n")], {},
                     files={"data/input.txt": {"dataset": "text/t.txt", "quick_chars": 25}})  # fmt: skip
    before = os.getcwd()
    assert run_notebook("nb", root=tmp_path, manifest=manifest).cells[0].status == "match"
    assert run_notebook("nb", root=tmp_path, manifest=manifest, quick=True).cells[0].ours == "25\n"
    assert os.getcwd() == before
    monkeypatch.setenv("DLFS_DATASETS", str(tmp_path / "none"))
    with pytest.raises(FileNotFoundError, match=r"opens 'data/input.txt', a copy of the dataset file 'text/t.txt'"):
        run_notebook("nb", root=tmp_path, manifest=manifest)
    assert os.getcwd() == before


def test_book_mode_imports_the_books_library_for_that_run_only(tmp_path: Path) -> None:
    package = tmp_path / "lincoln" / "lincoln"
    (package / "utils").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "utils" / "__init__.py").write_text("")
    (package / "utils" / "np_utils.py").write_text("def helper():\n    print('batch 10 loss 3')\n    return 7\n")
    (package / "losses.py").write_text("from .utils.np_utils import exp_ratios, helper\n")  # the book's import
    cell = "from lincoln.losses import helper\nprint(helper())"
    rule = {"kind": "definition", "sha": source_sha(cell), "replace": "import math"}
    manifest = _book(tmp_path, [(cell, "7\n")], {"0": rule}, library="lincoln", book_code_drops=r"^batch \d+ loss ")
    path_before = list(sys.path)
    book = run_notebook("nb", root=tmp_path, manifest=manifest, mode="book")
    assert book.cells[0].error == ""
    assert (book.cells[0].ours, book.cells[0].status) == ("7\n", "match")  # the extra debug line is dropped
    assert "lincoln" not in sys.modules
    assert sys.path == path_before


def test_a_torch_notebook_leaves_torchs_global_generator_alone(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    cell = "import torch\ntorch.manual_seed(3);\nprint(torch.rand(1).item() < 1)"
    manifest = _book(tmp_path, [(cell, "True\n")], {}, module="torch_impl.book.nb")
    before = torch.get_rng_state()
    assert run_notebook("nb", root=tmp_path, manifest=manifest).cells[0].status == "match"
    assert torch.equal(torch.get_rng_state(), before)


# ---------------------------------------------------------------------------------------------------------
# Verdicts: as book code, ran, drift
# ---------------------------------------------------------------------------------------------------------


def _pair_book(tmp_path: Path, book_code: bool = True) -> Path:
    """Cell 0: a definition ('step'); cell 1 trains (config: 3 steps, quick: 1) and prints a loss with 3 decimals."""
    define = "def step(x):\n    return x * 0.5"
    train = "x = 1.0\nfor _ in range(3):\n    x = step(x)\nprint(f'loss {x:.3f}')"
    rules = {
        "0": {"kind": "definition", "sha": source_sha(define), "replace": "from math import sqrt as step"},
        "1": {"kind": "config", "sha": source_sha(train), "quick_edits": [["range(3)", "range(1)"]]},
    }
    extra: dict[str, Any] = {} if book_code else {"book_code": False, "book_code_reason": "unseeded"}
    return _book(tmp_path, [(define, ""), (train, "loss 0.125\n")], rules, **extra)


def test_quick_mode_compares_with_the_books_code_on_the_same_configuration(tmp_path: Path) -> None:
    manifest = _pair_book(tmp_path)
    spec, _ = load_notebook("nb", root=tmp_path, manifest=manifest)
    run = run_notebook("nb", root=tmp_path, manifest=manifest, quick=True)
    book = run_notebook("nb", root=tmp_path, manifest=manifest, quick=True, mode="book")
    reconcile(run, book, spec)
    assert (run.cells[1].ours, book.cells[1].ours) == ("loss 1.000\n", "loss 0.500\n")  # sqrt(1) vs 1 * 0.5
    assert run.cells[1].status == "DIFFERENT"
    assert "differs from the book's code on the same configuration" in run.cells[1].reason
    book.cells[1].ours = "loss 1.000\n"
    run.cells[1].status = ""
    reconcile(run, book, spec)
    assert run.cells[1].status == "as book code"
    assert run.passed


def test_without_a_reference_a_quick_run_only_has_to_run(tmp_path: Path) -> None:
    manifest = _pair_book(tmp_path, book_code=False)
    run, book = run_pair("nb", quick=True, book_code=False, root=tmp_path, manifest=manifest)
    assert book is None
    assert run.cells[1].status == "ran"
    assert "unseeded" in run.cells[1].reason
    assert run.passed


def test_a_difference_the_books_code_prints_too_is_drift(tmp_path: Path) -> None:
    manifest = _pair_book(tmp_path)
    spec, _ = load_notebook("nb", root=tmp_path, manifest=manifest)
    run = run_notebook("nb", root=tmp_path, manifest=manifest)
    book = run_notebook("nb", root=tmp_path, manifest=manifest, mode="book")
    assert book.cells[1].status == "match"  # the book's code prints its saved 0.125
    assert run.cells[1].status == "DIFFERENT"
    reconcile(run, book, spec)
    assert run.cells[1].status == "DIFFERENT"  # the book's code matches its saved output: not drift
    book.cells[1].ours = run.cells[1].ours  # the book's code printing ours here: this machine's arithmetic
    reconcile(run, book, spec)
    assert run.cells[1].status == "drift"
    assert "first different number: #1, book 0.125, here 1.000 (loss 0.125)" in run.cells[1].reason


def test_drift_targets_read_the_accuracy_and_the_early_stop() -> None:
    saved = (
        "Validation loss after 10 epochs is 0.315\nValidation loss after 20 epochs is 0.283\n\n"
        "Loss increased after epoch 30, final loss was 0.283, \nusing the model from epoch 20\n"
        "The model validation accuracy is: 97.34%\n"
    )
    near = saved.replace("epoch 30", "epoch 40").replace("97.34", "96.10")
    assert drift_check(saved, near) == (
        True,
        "accuracy 97.34% -> 96.10% (-1.24 points); book stopped after epoch 30, here stopped after epoch 40",
    )
    far = saved.replace("epoch 30", "epoch 50")
    assert drift_check(saved, far)[0] is False
    assert drift_check(saved, saved.replace("97.34", "95.70"))[0] is False
    never = "Validation loss after 10 epochs is 0.3\nThe model validation accuracy is: 97.00%\n"
    assert drift_check(saved, never) == (
        False,
        "accuracy 97.34% -> 97.00% (-0.34 points); book stopped after epoch 30, here ran to its last evaluation "
        "(epoch 10)",
    )
    full = "Validation loss after 10 epochs is 0.3\nValidation loss after 20 epochs is 0.2\n"
    last = "Validation loss after 10 epochs is 0.3\n\nLoss increased after epoch 20, final loss was 0.3"
    assert drift_check(full, last) == (True, "book ran to its last evaluation (epoch 20), here stopped after epoch 20")


def test_errata_anchors_are_read_from_the_guides_headings() -> None:
    assert erratum_anchor("E22") == "e22-chapter-2s-network-sums-the-hidden-bias-gradient-over-the-units"
    assert erratum_anchor("E25") == "e25-linear-decay-by-repeated-subtraction-misses-final_lr"
    assert erratum_anchor("E999") == "errata"


@requires_book
def test_cli_runs_notebooks_in_parallel_and_writes_the_document(tmp_path: Path, capfd: Any) -> None:
    doc = tmp_path / "docs" / "repro.md"
    assert cli.main(["ch1", "ch3", "--jobs", "2", "--out", str(tmp_path / "out"), "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert "| ch3 (`03_dlfs/Code.ipynb`) | 5 | 21 | 0 | 3 | 3 | 0 | 0 | 0 | 0 | 0 | 0 |" in text
    again = tmp_path / "docs" / "again.md"
    assert cli.main(["render", str(tmp_path / "out" / "book.json"), str(again)]) == 0
    assert again.read_text() == text  # the document is a rendering of book.json alone
    assert cli.main(["render", str(tmp_path / "missing.json"), str(again)]) == 2
    out = capfd.readouterr().out
    assert "running 4 notebook runs (ch1 project, ch1 book, ch3 project, ch3 book), 2 at once" in out
    assert "ch3 (project) cell" in out  # progress lines from the worker processes


def test_book_code_labels_are_relabelled_and_later_cells_inherit_a_drift(tmp_path: Path) -> None:
    define = "def step(x):\n    return x * 0.5"
    train = "x = step(1.0)\nprint(f'The loss after 1 epochs was {x}')"
    later = "assert step is not abs\nprint(x * 2)"
    rules = {"0": {"kind": "definition", "sha": source_sha(define), "replace": "from math import sqrt as step"}}
    manifest = _book(
        tmp_path,
        [(define, ""), (train, "The loss after 0 epochs was 0.25\n"), (later, "0.5\n")],
        rules,
        book_code_relabel={"1": {"pattern": r"loss after (\d+) epochs", "by": -1}},
        book_code_relabel_reason="the library counts epochs from 1 now",
        differences={"2": {"drift_from": 1, "reason": "continues cell 1"}},
    )
    spec, _ = load_notebook("nb", root=tmp_path, manifest=manifest)
    book = run_notebook("nb", root=tmp_path, manifest=manifest, mode="book")
    assert book.cells[1].ours == "The loss after 0 epochs was 0.5\n"  # relabelled from "after 1 epochs"
    run = run_notebook("nb", root=tmp_path, manifest=manifest)
    run.cells[1].ours = "The loss after 0 epochs was 0.5\n"  # as if our module printed what the book's code does
    run.cells[1].status = "DIFFERENT"
    book.cells[2].error, book.cells[2].ours = "AssertionError", ""  # the book's code cannot run the later cell
    reconcile(run, book, spec)
    assert run.cells[1].status == "drift"
    assert (run.cells[2].status, run.cells[2].saved, run.cells[2].ours) == ("drift", "0.5\n", "2.0\n")
    assert "continues cell 1's drifted state (continues cell 1)" in run.cells[2].reason

    run = run_notebook("nb", root=tmp_path, manifest=manifest)  # cell 1 differs, but not as the book's code does
    reconcile(run, book, spec)
    assert run.cells[1].status == "DIFFERENT"
    assert run.cells[2].status == "DIFFERENT"
    assert "but cell 1 did not drift" in run.cells[2].reason


def test_malformed_relabels_and_drift_sources_are_named(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"with a notebook-level 'book_code_relabel_reason'"):
        load_manifest(_book(tmp_path, [("x = 1", "")], {}, book_code_relabel={"0": {"pattern": "(\\d+)", "by": 1}}))
    with pytest.raises(ManifestError, match=r"regex with one group"):
        load_manifest(
            _book(
                tmp_path,
                [("x = 1", "")],
                {},
                book_code_relabel={"0": {"pattern": "\\d+", "by": 1}},
                book_code_relabel_reason="r",
            )
        )
    with pytest.raises(ManifestError, match=r"or 'drift_from': a cell index"):
        load_manifest(_book(tmp_path, [("x = 1", "")], {}, differences={"0": {"drift_from": "1"}}))
