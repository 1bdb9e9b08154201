"""The book's own notebooks, run on this project by the book runner, print the book's saved numbers.

Each notebook test runs every code cell of the book's notebook (from ``DLFS_BOOK``, default ``../shared/book``)
with only the manifest's substitutions and compares every printed output with the book's saved output at its
printed precision: the saved outputs are the expected values, our run computes them. Where the book's code is
wrong (erratum E22, chapter 2's hidden bias gradient) the difference is expected, and a test shows that the
book's formula, put back, reproduces the book's numbers exactly.

Also: the manifest's validation, the runner's display rules and output comparison, the command line, and that
the book modules reproduce the book's random streams without touching NumPy's global generator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parity_tests.book import __main__ as cli
from parity_tests.book.manifest import MANIFEST, BookError, ManifestError, book_root, load_manifest, source_sha
from parity_tests.book.runner import ends_with_semicolon, outputs_agree, run_notebook, run_source


def _global_state() -> tuple[np.ndarray, int]:
    """NumPy's global Mersenne Twister key and position (read, never drawn from)."""
    state = np.random.get_state(legacy=False)  # noqa: NPY002
    return state["state"]["key"].copy(), int(state["state"]["pos"])


def _book_available() -> str | None:
    try:
        book_root()
    except BookError as exc:
        return str(exc)
    return None


requires_book = pytest.mark.skipif(
    _book_available() is not None, reason=f"the book's repository is not available: {_book_available()}"
)

#: notebook -> (printed outputs, matching the book, explained by an erratum)
EXPECTED = {
    "ch1": (11, 11, 0),
    "ch2": (15, 9, 6),
    "ch3": (3, 3, 0),
    "ch5": (31, 31, 0),
    "ch6-autograd": (4, 4, 0),
}


# ---------------------------------------------------------------------------------------------------------
# The notebooks
# ---------------------------------------------------------------------------------------------------------


@requires_book
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_prints_the_books_numbers(name: str) -> None:
    run = run_notebook(name)
    failures = [(c.index, c.status, c.saved, c.ours, c.error) for c in run.failures]
    assert run.passed, f"{name}: {failures}"
    outputs, matched, explained = EXPECTED[name]
    printed = [c for c in run.cells if c.printed]
    assert len(printed) == outputs
    assert run.count("status", "match") == matched
    assert run.count("status", "explained") == explained
    assert all(c.action != "unchanged" or c.index not in load_manifest()[name].cells for c in run.cells)


@requires_book
def test_chapter_3_prints_all_15_validation_losses_and_6_errors() -> None:
    run = run_notebook("ch3")
    printed = "".join(c.ours for c in run.cells)
    assert printed.count("Validation loss after") == 15
    assert printed.count("Mean absolute error:") == 3
    assert printed.count("Root mean squared error") == 3
    for value in ("25.087", "16.215", "14.655", "3.52", "5.01", "2.60", "4.03", "2.45", "3.83"):
        assert value in printed  # the book's printed values, as computed by this run


@requires_book
@pytest.mark.parametrize("name", ["ch1", "ch2", "ch3", "ch6-autograd"])
def test_the_books_own_code_reproduces_its_outputs_here(name: str) -> None:
    run = run_notebook(name, mode="book")
    assert run.passed, [(c.index, c.status, c.saved, c.ours, c.error) for c in run.failures]
    assert run.count("status", "match") == EXPECTED[name][0]


@requires_book
def test_erratum_e22_the_books_summed_hidden_bias_gradient_gives_the_books_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scratch import one_hidden_layer

    correct = one_hidden_layer._gradients  # what the book module's train steps with (times the book's n/2)

    def book_gradients(forward_info: dict[str, np.ndarray], weights: dict[str, np.ndarray]) -> Any:
        grads = correct(forward_info, weights)
        grads["B1"] = np.full_like(grads["B1"], grads["B1"].sum())  # the book: one sum over the hidden units
        return grads

    monkeypatch.setattr(one_hidden_layer, "_gradients", book_gradients)
    run = run_notebook("ch2")
    network_cells = [c for c in run.cells if c.index in load_manifest()["ch2"].differences]
    assert len(network_cells) == 6
    for cell in network_cells:  # with the book's formula every network output is the book's
        assert outputs_agree(cell.saved, cell.ours), (cell.index, cell.saved, cell.ours)


def test_erratum_e22_the_books_hidden_bias_gradient_is_not_the_derivative() -> None:
    from scratch.book import ch2_network as net
    from scratch.gradcheck import central_difference

    rng = np.random.default_rng(2202)
    X, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 1))
    weights = {
        "W1": rng.standard_normal((3, 4)),
        "B1": rng.standard_normal((1, 4)),
        "W2": rng.standard_normal((4, 1)),
        "B2": rng.standard_normal((1, 1)),
    }

    def summed_half_error() -> float:  # the function the book's steps descend: Σ (y - P)² / 2
        _, loss = net.forward_loss(X, y, weights)
        return 0.5 * len(X) * loss

    truth = central_difference(summed_half_error, weights["B1"], 1e-6)
    info, _ = net.forward_loss(X, y, weights)
    ours = net.loss_gradients(info, weights)["B1"]
    np.testing.assert_allclose(ours, truth, rtol=1e-7, atol=1e-9)
    book = np.full_like(ours, ours.sum())  # the book's dLdB1.sum(axis=0): one number for every unit
    assert np.max(np.abs(book - truth)) > 1e-2


@requires_book
def test_running_a_notebook_leaves_numpy_global_state_alone() -> None:
    key, pos = _global_state()
    options = np.get_printoptions()
    run_notebook("ch1")  # its cells call np.random.seed and np.set_printoptions(precision=4)
    after_key, after_pos = _global_state()
    assert np.array_equal(key, after_key)
    assert pos == after_pos
    assert np.get_printoptions() == options


# ---------------------------------------------------------------------------------------------------------
# The book modules' random streams
# ---------------------------------------------------------------------------------------------------------


def _regression(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    X = rng.standard_normal((60, 4))
    y = X @ rng.standard_normal((4, 1)) + 0.3
    return X[:40], X[40:], y[:40], y[40:]


def test_book_ch3_stream_is_the_books_and_private() -> None:
    from scratch.book import ch3

    X_train, X_test, y_train, y_test = _regression(np.random.default_rng(31))
    key, pos = _global_state()
    net = ch3.NeuralNetwork([ch3.Dense(3), ch3.Dense(1, ch3.Linear())], ch3.MeanSquaredError(), seed=7)
    ch3.Trainer(net, ch3.SGD(0.01)).fit(X_train, y_train, X_test, y_test, epochs=2, eval_every=1, seed=5)
    assert _global_state()[1] == pos  # NumPy's global generator is untouched
    assert np.array_equal(_global_state()[0], key)
    # Each layer's set-up reseeds the book's stream with the network's seed, then draws W, then B (randn).
    fresh = ch3.NeuralNetwork([ch3.Dense(3)], ch3.MeanSquaredError(), seed=7)
    fresh.forward(X_train)
    book = np.random.RandomState(7)
    np.testing.assert_array_equal(fresh.layers[0].params[0], book.randn(4, 3))
    np.testing.assert_array_equal(fresh.layers[0].params[1], book.randn(1, 3))


def test_book_ch3_equal_shaped_layers_start_equal_as_in_the_book() -> None:
    from scratch.book import ch3

    net = ch3.NeuralNetwork([ch3.Dense(4), ch3.Dense(4)], ch3.MeanSquaredError(), seed=3)
    net.forward(np.random.default_rng(0).standard_normal((5, 4)))
    np.testing.assert_array_equal(net.layers[0].params[0], net.layers[1].params[0])  # the book's stream


def test_book_ch2_train_is_reproducible_and_private() -> None:
    from scratch.book import ch2_linear_regression as lin

    X_train, _, y_train, _ = _regression(np.random.default_rng(21))
    key, _ = _global_state()
    first = lin.train(X_train, y_train, n_iter=30, learning_rate=0.001, batch_size=7, return_weights=True, seed=9)
    second = lin.train(X_train, y_train, n_iter=30, learning_rate=0.001, batch_size=7, return_weights=True, seed=9)
    assert first is not None
    assert second is not None
    np.testing.assert_array_equal(first[1]["W"], second[1]["W"])
    assert np.array_equal(_global_state()[0], key)
    # the book's initial weights: randn(k, 1) then randn(1, 1) right after seed(9)
    stream = np.random.RandomState(9)
    assert lin.init_weights.__module__ == "scratch.book.ch2_linear_regression"
    lin._STREAM.seed(9)
    weights = lin.init_weights(4)
    np.testing.assert_array_equal(weights["W"], stream.randn(4, 1))
    np.testing.assert_array_equal(weights["B"], stream.randn(1, 1))


def test_book_ch2_gradients_are_the_books_scale() -> None:
    from scratch import linear_regression, one_hidden_layer
    from scratch.book import ch2_linear_regression as lin
    from scratch.book import ch2_network as net

    rng = np.random.default_rng(22)
    X, y = rng.standard_normal((9, 3)), rng.standard_normal((9, 1))
    w = {"W": rng.standard_normal((3, 1)), "B": rng.standard_normal((1, 1))}
    info, _ = lin.forward_loss(X, y, w)
    for key, grad in lin.loss_gradients(info, w).items():  # the summed squared error: n times the mean's
        np.testing.assert_allclose(grad, 9 * linear_regression.loss_gradients(info, w)[key], rtol=1e-14)
    weights = {
        "W1": rng.standard_normal((3, 4)),
        "B1": rng.standard_normal((1, 4)),
        "W2": rng.standard_normal((4, 1)),
        "B2": rng.standard_normal((1, 1)),
    }
    info, _ = net.forward_loss(X, y, weights)
    grads = net.loss_gradients(info, weights)
    for key, grad in grads.items():  # the book's -(y - P): n / 2 times the mean's
        np.testing.assert_allclose(grad, 4.5 * one_hidden_layer.loss_gradients(info, weights)[key], rtol=1e-14)
    assert grads["B1"].shape == (1, 4)
    assert len(set(grads["B1"].ravel().tolist())) == 4  # one gradient per hidden unit (the book's E22: one sum)


def test_book_ch1_forward_sum_with_and_without_x11() -> None:
    from scratch.book import ch1

    rng = np.random.default_rng(11)
    X, W = rng.standard_normal((3, 3)), rng.standard_normal((3, 2))
    plain = ch1.matrix_function_forward_sum(X, W, ch1.sigmoid)  # the book raised UnboundLocalError (E23)
    assert plain == pytest.approx(float(np.sum(ch1.sigmoid(X @ W))), rel=1e-15)
    X2 = X.copy()
    X2[0, 0] = 0.25
    modified = ch1.matrix_function_forward_sum(X, W, ch1.sigmoid, modify_x11=True, x11=0.25)
    assert modified == pytest.approx(float(np.sum(ch1.sigmoid(X2 @ W))), rel=1e-15)
    assert X[0, 0] != 0.25  # the caller's X is not changed


def test_book_ch5_integer_examples_keep_integer_dtypes() -> None:
    from scratch.book import ch5

    x, w = np.array([1, 2, 3, 4, 5]), np.array([1, 1, 1])
    assert ch5._pad_1d(x, 1).dtype == x.dtype
    assert ch5.conv_1d(x, w).dtype == np.float64
    np.testing.assert_array_equal(ch5._input_grad_1d(x, w), [2, 3, 3, 3, 2])
    assert ch5._input_grad_1d(x, w).dtype == x.dtype
    assert ch5._param_grad_1d(x, w).dtype == w.dtype
    with pytest.raises(ValueError, match=r"must have 1 dimensions; received shape \(1, 5\)"):
        ch5.conv_1d(x[None], w)


# ---------------------------------------------------------------------------------------------------------
# The runner's rules
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("saved", "ours", "agree"),
    [
        ("3.52\n", "3.52\n", True),
        ("3.52\n", "3.53\n", False),  # printed to 2 decimals: must be equal as printed
        ("-47.09123124155292\n", "-47.091231241552805\n", True),  # 17 digits: summation order, 2.4e-15
        ("-47.09123124155292\n", "-47.0912312415\n", False),
        ("2.3452987587074423\n", "2.3452987587084423\n", True),  # 4.3e-13 relative: within 1e-12
        ("2.3452987587074423\n", "2.3452987587174423\n", False),  # 4.3e-12 relative: not
        ("array([2, 3, 3])\n", "array([2, 3, 3])\n", True),
        ("array([2, 3, 3])\n", "array([2, 3, 4])\n", False),
        ("Mean absolute error: 2.5951 \n", "Mean absolute error 2.5951 \n", False),  # the text must be equal
        ("4\n", "4.0\n", False),
    ],
)
def test_outputs_agree_at_the_printed_precision(saved: str, ours: str, agree: bool) -> None:
    assert outputs_agree(saved, ours) is agree


def test_semicolon_rule_reads_tokens_like_ipython() -> None:
    assert ends_with_semicolon("plt.plot(x);\n# plt.savefig('a.png')")
    assert ends_with_semicolon("x = 1\nf(x);  # done")
    assert not ends_with_semicolon("x = 1\nf(x)  # done;")
    assert not ends_with_semicolon("s = 'a;'\ns")


def test_run_source_displays_the_last_expression_like_a_notebook() -> None:
    namespace: dict[str, Any] = {}
    assert run_source("print('a')\nx = 2\nx * 3", namespace, "<test>") == "a\n6\n"
    assert run_source("x * 3;", namespace, "<test>") == ""
    assert run_source("y = x", namespace, "<test>") == ""
    assert run_source("None", namespace, "<test>") == ""


# ---------------------------------------------------------------------------------------------------------
# The manifest: validation and clear errors
# ---------------------------------------------------------------------------------------------------------


def _write_manifest(tmp_path: Path, cells: dict[str, Any], **extra: Any) -> Path:
    path = tmp_path / "notebooks.json"
    path.write_text(json.dumps({"notebooks": {"nb": {"path": "nb.ipynb", "cells": cells, **extra}}}))
    return path


def _write_notebook(root: Path, sources: list[str]) -> None:
    cells = [{"cell_type": "code", "source": s, "outputs": []} for s in sources]
    (root / "nb.ipynb").write_text(json.dumps({"cells": cells}))


SHA = "0123456789ab"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"kind": "definition", "sha": SHA, "replace": "x = 1"}, r"import statements only; received 'x = 1'"),
        ({"kind": "definition", "sha": SHA, "replace": "def f(): pass"}, r"import statements only"),
        ({"kind": "data", "sha": SHA, "replace": "import data"}, r"exactly one assignment from a loader call"),
        ({"kind": "data", "sha": SHA, "replace": "a = f()\nb = g()"}, r"exactly one assignment"),
        ({"kind": "data", "sha": SHA, "replace": "a = 3"}, r"exactly one assignment from a loader call"),
        ({"kind": "display", "sha": SHA, "replace": "import x", "reason": "r"}, r"skipped, not replaced"),
        ({"kind": "display", "sha": SHA}, r"needs a 'reason'"),
        ({"kind": "display", "sha": SHA, "reason": "r", "drop": "all"}, r"'drop' must be 'magics'"),
        ({"kind": "rewrite", "sha": SHA}, r"'kind' must be one of"),
        ({"kind": "definition", "sha": "abc", "replace": "import x"}, r"'sha' must be 12 lowercase hex digits"),
        ({"kind": "definition", "sha": SHA, "replace": "import (x"}, r"must be valid Python"),
        ({"kind": "definition", "sha": SHA, "replace": "import x", "extra": 1}, r"unknown keys \['extra'\]"),
    ],
)
def test_malformed_manifest_entries_are_named(tmp_path: Path, rule: dict[str, Any], message: str) -> None:
    path = _write_manifest(tmp_path, {"0": rule})
    with pytest.raises(ManifestError, match=message) as info:
        load_manifest(path)
    assert str(path) in str(info.value)
    assert "nb cell 0" in str(info.value)


def test_manifest_cell_keys_and_errata_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"cell keys must be cell indices"):
        load_manifest(_write_manifest(tmp_path, {"first": {"kind": "display", "sha": SHA, "reason": "r"}}))
    with pytest.raises(ManifestError, match=r"needs an 'erratum' such as \"E22\""):
        load_manifest(_write_manifest(tmp_path, {}, differences={"3": {"reason": "no erratum"}}))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ManifestError, match=r"must be a readable JSON file"):
        load_manifest(tmp_path / "bad.json")


def test_a_changed_cell_is_refused_with_both_shas(tmp_path: Path) -> None:
    _write_notebook(tmp_path, ["x = 1", "y = 2"])
    path = _write_manifest(tmp_path, {"1": {"kind": "definition", "sha": SHA, "replace": "import math"}})
    with pytest.raises(ManifestError, match=rf"must have sha {SHA}; found {source_sha('y = 2')}"):
        run_notebook("nb", root=tmp_path, manifest=path)


def test_substitutions_apply_and_the_rest_runs_unchanged(tmp_path: Path) -> None:
    _write_notebook(tmp_path, ["def f(x):\n    return x + 1", "%matplotlib inline\nz = 5", "f(z)", "plot()"])
    path = _write_manifest(
        tmp_path,
        {
            "0": {
                "kind": "definition",
                "sha": source_sha("def f(x):\n    return x + 1"),
                "replace": "from math import sqrt as f",
            },
            "1": {
                "kind": "display",
                "sha": source_sha("%matplotlib inline\nz = 5"),
                "reason": "magic",
                "drop": "magics",
            },
            "3": {"kind": "display", "sha": source_sha("plot()"), "reason": "a plot"},
        },
    )
    project = run_notebook("nb", root=tmp_path, manifest=path)
    assert [c.action for c in project.cells] == ["definition", "magics dropped", "unchanged", "display"]
    assert project.cells[2].ours == "2.23606797749979\n"  # sqrt(5): the substituted definition ran
    book = run_notebook("nb", root=tmp_path, manifest=path, mode="book")
    assert book.cells[2].ours == "6\n"  # the book's own definition ran


def test_missing_book_and_notebook_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLFS_BOOK", str(tmp_path / "nowhere"))
    with pytest.raises(BookError, match=r"DLFS_BOOK=.*nowhere.*which is not a directory: set DLFS_BOOK"):
        book_root()
    with pytest.raises(BookError, match=r"notebook must be one of \["):
        run_notebook("ch99", root=tmp_path)
    path = _write_manifest(tmp_path, {})
    with pytest.raises(BookError, match=r"nb.ipynb must exist"):
        run_notebook("nb", root=tmp_path, manifest=path)
    with pytest.raises(ValueError, match=r"mode must be 'project' or 'book'"):
        run_notebook("nb", root=tmp_path, manifest=path, mode="both")


def test_the_real_manifest_holds_imports_and_loader_calls_only() -> None:
    specs = load_manifest(MANIFEST)  # validates every entry
    assert set(EXPECTED) <= set(specs)
    kinds = {rule.kind for spec in specs.values() for rule in spec.cells.values()}
    assert kinds <= {"definition", "data", "display", "config"}


# ---------------------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------------------


def test_cli_rejects_unknown_notebooks(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["ch99"])
    assert info.value.code == 2
    assert "NAME must be one of" in capsys.readouterr().err


def test_cli_reports_a_missing_book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("DLFS_BOOK", str(tmp_path / "nowhere"))
    assert cli.main(["ch1", "--out", str(tmp_path / "out")]) == 2
    assert "error: the book's repository must be a folder" in capsys.readouterr().err


@requires_book
def test_cli_writes_the_book_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ch3", "ch6-autograd", "--out", str(tmp_path)]) == 0
    table = (tmp_path / "book.md").read_text()
    assert "| ch3 (`03_dlfs/Code.ipynb`) | 5 | 21 | 0 | 3 | 3 | 0 | 0 | 0 | 0 | 0 | 0 |" in table
    data = json.loads((tmp_path / "book.json").read_text())
    assert [n["notebook"] for n in data["notebooks"]] == ["ch3", "ch6-autograd"]
    assert all(n["passed"] for n in data["notebooks"])
    assert all(row["book_code_matches"] for n in data["notebooks"] for row in n["rows"])
    assert "3 outputs: 3 match" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------------
# The book's printed numbers for the reproduction table
# ---------------------------------------------------------------------------------------------------------


@requires_book
def test_saved_numbers_are_read_from_the_books_notebooks() -> None:
    from parity_tests.book.saved import BOOK_IMPLEMENTATION, book_row, number_after, saved_text, validation_losses

    text = saved_text("ch3", 35)
    assert text is not None
    losses = validation_losses(text)
    assert sorted(losses) == [10, 20, 30, 40, 50]
    assert losses[50] == 14.655  # the book's printed value, read from its notebook
    assert number_after(text, r"Mean absolute error:") == 2.45
    assert number_after(text, r"no such label") is None
    row = book_row("ch3", "dl", {"MAE": 2.45, "RMSE": None}, "cell 35")
    assert row is not None
    assert row["implementation"] == BOOK_IMPLEMENTATION
    assert row["metrics"] == {"MAE": 2.45}
    assert book_row("ch3", "dl", {"MAE": None}, "cell 35") is None


def test_without_the_book_there_are_no_book_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from parity_tests.book.saved import saved_text

    monkeypatch.setenv("DLFS_BOOK", str(tmp_path / "absent"))
    assert saved_text("ch3", 33) is None
