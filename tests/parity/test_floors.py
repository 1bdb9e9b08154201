"""NumPy's floors (parity_tests.floors), the scaling sweeps and the comparison with the committed benchmark
numbers: what the report's speed section is built from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parity_tests import floors
from parity_tests.report import markdown
from parity_tests.report import model as report_model
from parity_tests.specs import all_specs, get_spec

ROOT = Path(__file__).resolve().parents[2]

#: The benchmarked components where scratch has been behind torch on some machine: each needs a floor, so a
#: row above 1.0 can be explained (issue 16). The others run well under torch's time.
NEEDS_FLOOR = {
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "Dense",
    "Conv2D_Op",
    "Conv2D",
    "LSTMLayer",
    "GRULayer(before)",
    "GRULayer(after)",
    "Autoencoder",
}


def _problem(spec_name: str, case: Any, dtype: str) -> Any:
    spec = get_spec(spec_name)
    return spec.make_problem(case, np.random.default_rng(0), np.dtype(dtype))


def test_the_components_that_can_trail_torch_have_a_floor() -> None:
    with_floor = {s.name for s in all_specs() if s.floor is not None}
    assert with_floor >= NEEDS_FLOOR
    for spec in all_specs():
        if spec.floor is not None:
            assert spec.bench, f"{spec.name} has a floor but no benchmark"
            assert spec.floor.note


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["Sigmoid", "Tanh", "ReLU", "LeakyReLU"])
def test_an_activation_floor_computes_the_same_gradient_as_scratch(name: str, dtype: str) -> None:
    """The floor is the same math with fewer NumPy calls: its dL/dx equals scratch's on the benchmark's own
    input and upstream gradient, in the benchmark's dtype."""
    spec = get_spec(name)
    problem = _problem(name, spec.bench[0], dtype)
    assert spec.floor is not None
    got = spec.floor.make(problem)()
    want = spec.run_scratch(problem)["grad:input"]
    assert got.dtype == want.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-30)
    assert np.abs(want).max() > 0.01  # a real gradient, not zeros


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_dense_floor_computes_the_same_input_gradient(dtype: str) -> None:
    spec = get_spec("Dense")
    case = spec.bench[0]
    problem = _problem("Dense", case, dtype)
    assert spec.floor is not None
    got = spec.floor.make(problem)()
    results = spec.run_scratch(problem)
    np.testing.assert_allclose(got, results["grad:input"], rtol=1e-4 if dtype == "float32" else 1e-12)
    assert spec.floor.flops is not None
    assert spec.floor.flops(problem) == 6.0 * case.n * case.fin * case.fout  # 3 GEMMs of 2·N·in·out


@pytest.mark.parametrize("name", ["Conv2D_Op", "Conv2D"])
def test_the_conv_floor_gemms_have_the_output_shape_of_the_benchmark(name: str) -> None:
    """M of the forward GEMM is N·H_out·W_out of the convolution the benchmark actually runs."""
    spec = get_spec(name)
    assert spec.floor is not None
    assert spec.floor.flops is not None
    for case in spec.bench:
        problem = _problem(name, case, "float32")
        out = spec.run_scratch(problem)["output"]
        n_out = out.shape[0] * int(np.prod(out.shape[1:])) // case.cout  # N·H_out·W_out (flattened or not)
        assert spec.floor.flops(problem) == 6.0 * n_out * case.cin * case.k * case.k * case.cout
        step = spec.floor.make(problem)
        step()


@pytest.mark.parametrize(
    "name", sorted(NEEDS_FLOOR - {"Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Dense", "Conv2D_Op", "Conv2D"})
)
def test_the_larger_floors_run_in_the_benchmark_dtype(name: str) -> None:
    spec = get_spec(name)
    assert spec.floor is not None
    for case in spec.bench:
        problem = _problem(name, case, "float32")
        spec.floor.make(problem)()
        assert spec.floor.flops is None or spec.floor.flops(problem) > 1e6


def test_floor_kinds_are_checked() -> None:
    with pytest.raises(
        ValueError, match=r"kind must be one of \['LeakyReLU', 'ReLU', 'Sigmoid', 'Tanh'\]; received 'GELU'"
    ):
        floors.activation_floor("GELU")


def test_gemm_rate_is_a_plausible_rate() -> None:
    rate = floors.gemm_rate("float64", size=256, repeats=3)
    assert 0.1 < rate < 10_000  # GFLOP/s


# ---------------------------------------------------------------------------------------------------------
# Sweeps
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "axis", "low", "high"),
    [("Dense", "batch", 1, 256), ("Conv2D_Op", "image side", 8, 64), ("LSTMLayer", "hidden size", 32, 1024)],
)
def test_each_sweep_spans_the_range_issue_16_asks_for(name: str, axis: str, low: int, high: int) -> None:
    spec = get_spec(name)
    assert spec.sweep is not None
    assert spec.sweep.axis == axis
    sizes = [spec.sweep.value(c) for c in spec.sweep.cases]
    assert sizes == sorted(set(sizes))
    assert (sizes[0], sizes[-1]) == (low, high)
    assert len(sizes) >= 4


def test_measure_times_a_sweep_with_sizes_and_floors() -> None:
    spec = get_spec("Dense")
    timings = report_model.measure(spec, 0.002, {"float64": 50.0}, sweep=True)
    assert [(t.size, t.dtype) for t in timings][:2] == [(1, "float64"), (1, "float32")]
    assert {t.axis for t in timings} == {"batch"}
    assert all(t.floor_s is not None and t.floor_s > 0 for t in timings)
    assert timings[0].peak_gflops == 50.0
    assert report_model.measure(get_spec("ReLU"), 0.002, sweep=True) == []  # no sweep


# ---------------------------------------------------------------------------------------------------------
# The committed numbers and the regression flag
# ---------------------------------------------------------------------------------------------------------
def _row(ratio: float, case: str = "N64", dtype: str = "float64", seconds: float = 0.01) -> dict[str, Any]:
    return {"spec": "Dense", "case": case, "dtype": dtype, "ratio": ratio, "scratch_s": seconds, "torch_s": seconds}


def test_a_row_slower_than_the_committed_numbers_beyond_the_noise_is_flagged() -> None:
    baseline = {
        "rows": {
            "Dense | N64 | float64": {"ratio": 0.8},
            "Dense | N64 | float32": {"ratio": 1.0},
            "Dense | tiny | float64": {"ratio": 1.0},
        }
    }
    band = report_model.SPEED_NOISE
    assert band * 1.01 < report_model.SPEED_NOISE_SHORT
    changes = report_model.speed_changes(
        [
            _row(0.8 * (1 + band) * 1.01),
            _row(1.0 * (1 + band) * 0.99, dtype="float32"),
            _row(1.0, case="new"),
            _row(1.0 * (1 + band) * 1.01, case="tiny", seconds=1e-5),  # a short row: the wider band applies
        ],
        baseline,
    )
    assert changes[0]["slower"] is True
    assert changes[0]["committed"] == 0.8
    assert changes[1]["slower"] is False
    assert changes[2] == {"committed": None, "change": None, "slower": False}
    assert changes[3]["slower"] is False  # 31% is inside the short rows' 50%
    assert report_model.speed_changes([_row(5.0)], None)[0]["slower"] is False


def test_the_committed_numbers_cover_every_benchmark_row(tmp_path: Path) -> None:
    """docs/benchmarks.json holds a ratio for every benchmark case and dtype the specs define now, so adding a
    benchmark means committing its numbers (``--write-speed-baseline``)."""
    committed = report_model.load_speed_baseline(ROOT / "docs" / "benchmarks.json")
    assert committed is not None
    expected = {f"{s.name} | {c.name} | {d}" for s in all_specs() if s.bench_scratch for c in s.bench for d in s.dtypes}
    assert set(committed["rows"]) == expected
    assert all(row["ratio"] > 0 for row in committed["rows"].values())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": []}))
    with pytest.raises(ValueError, match=r"bad.json: expected a JSON object with 'rows'"):
        report_model.load_speed_baseline(bad)
    assert report_model.load_speed_baseline(tmp_path / "missing.json") is None


def test_the_speed_section_names_each_row_behind_with_its_time_over_the_floor() -> None:
    """A row behind torch and above its floor is listed under the table with scratch - floor and what the floor
    leaves out (the conv floors count only GEMMs, so they say what else a NumPy convolution must do)."""
    conv = get_spec("Conv2D_Op")
    assert conv.floor is not None
    assert "col2im" in conv.floor.beyond
    base = {"case": "N32", "torch_s": 0.001, "floor_note": "GEMMs"}
    behind = {**base, "spec": "Conv2D_Op", "dtype": "float32", "scratch_s": 0.0032, "floor_s": 0.002}
    behind |= {"ratio": 3.2, "floor_ratio": 2.0, "over_floor": 1.6, "verdict": "behind", "beyond_floor": "col2im"}
    at_floor = {**base, "spec": "Dense", "dtype": "float64", "scratch_s": 0.0011, "floor_s": 0.001}
    at_floor |= {"ratio": 1.1, "floor_ratio": 1.0, "over_floor": 1.1, "verdict": "floor", "beyond_floor": ""}
    text = "\n".join(markdown._speed([behind, at_floor], []))
    assert "- Conv2D_Op N32 float32: 1.200 ms over the floor. Not in the floor: col2im." in text
    assert "Dense N32 float64" not in text
    assert "No row is behind" in "\n".join(markdown._speed([at_floor], []))


def test_the_speed_table_marks_a_slower_row_in_its_change_cell_and_below() -> None:
    row = {**_row(2.0), "floor_s": None, "floor_ratio": None, "over_floor": None, "verdict": "behind"}
    baseline = {"date": "then", "machine": "here", "rows": {"Dense | N64 | float64": {"ratio": 1.0}}}
    text = "\n".join(markdown._speed([row], [], baseline))
    assert "| 1.00 | 2.00 **slower** |" in text
    assert "Slower: Dense N64 float64." in text
