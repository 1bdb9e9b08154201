"""The one tolerance table of the project.

Every parity comparison uses the error metric

    err = max |scratch - torch| / max |torch|        (the max-norm relative error)

against the tolerance of its tier (dtype) and category:

- ``forward``: outputs and loss values of one call;
- ``gradient``: input and parameter gradients of one backward;
- ``trajectory``: values after several optimisation steps or epochs (errors compound);
- ``fd``: scratch's backward against central finite differences (float64, eps = 1e-6), whose own
  truncation and cancellation error is ~1e-9 relative, so its tolerance is looser by design.

The values were chosen from measured errors (``python -m parity_tests.report`` prints the measured errors
next to these tolerances). Worst errors over every spec and case of chapters 1-4 when the table was set:

    float64: forward 3.2e-16, gradient 5.6e-16, trajectory 1.3e-15 (5 epochs of Boston training)
    float32: forward 1.4e-7,  gradient 3.7e-7,  trajectory 1.0e-6

The extreme-value sweep (``harness.run_extreme``: inputs scaled up to the dtype's limits) meets ill-conditioned
results: at inputs of 1e3 a pre-activation is a sum of large terms that cancel, and a saturated unit's
gradient is a tiny difference, so two implementations differ by far more than round-off. There, float64
gradients get ``extreme`` = 1e-8 (measured worst 1.4e-9, an LSTM W_c gradient), and float32 results are judged
against the float64 truth: scratch's error at most ``EXTREME_FLOAT32_FACTOR`` (32) times torch's, taking the
larger error of torch's two CPU paths, oneDNN and native (measured worst ratio 22, a GRU bias gradient: 0.31
vs 0.014; torch's two paths differ by up to 60x on one LSTM input, and scratch matches the native one).

So the float64 tier sits at 1e-12 for single calls and 1e-10 for trajectories, three orders of magnitude
above round-off and many orders below any real defect (the mutation self-test's bugs give errors of 1e-2
and more); the float32 tier sits at 1e-5 and 1e-4, 25-100 times the worst measured float32 error.

Below the parity tiers, the bounds of the two other verdicts of the project, each with where it was measured:
the recipes' whole training runs (``python -m parity_tests.recipes``) and the book's printed outputs (the book
runner, ``python -m parity_tests.book``).

This module is the only place of ``parity_tests`` (outside its tests) that may define a tolerance: a test
(``tests/scratch/test_one_of_everything.py``) fails on an upper-case name with a word TOL, RTOL, ATOL or
TOLERANCE(S) assigned anywhere else, on a comparison with a float literal below 1e-3, and on a literal given to a
``rtol``/``atol``/``rel_tol``/``abs_tol``/``tol``/``tolerance`` argument or parameter default.
"""

from __future__ import annotations

from typing import Final

CATEGORIES: Final = ("forward", "gradient", "trajectory")

TOLERANCES: Final[dict[str, dict[str, float]]] = {
    "float64": {"forward": 1e-12, "gradient": 1e-12, "trajectory": 1e-10, "extreme": 1e-8},
    "float32": {"forward": 1e-5, "gradient": 1e-5, "trajectory": 1e-4},
}

# Float32 results of the extreme-value sweep: scratch's error against the float64 truth at most this many times
# torch's (see the module docstring).
EXTREME_FLOAT32_FACTOR: Final = 32.0

# Central differences with eps = 1e-6 in float64: measured worst 2e-9 (see module docstring).
FD_TOLERANCE: Final = 1e-6
FD_EPS: Final = 1e-6

# A reference array whose largest magnitude is below this is "near zero": a comparison against it
# proves nothing, so the harness refuses it.
DEGENERATE_SCALE: Final = 1e-8

# ---- The recipes: whole training runs of both implementations (python -m parity_tests.recipes) --------------

# A float64 run whose implementations share the initial weights, the batches and (where there is dropout) the
# masks: every loss, final weight and prediction within this relative error, or the recipe exits 1 (chapters 2,
# 3, 7 Boston and 7 LSTM; chapter 6 for its first free-running iterations and its lock-step checks). Measured
# worst: chapter 2 full run 2.6e-15, chapter 3 (all three models, 50 epochs) 3.3e-16, chapter 7 Boston (100
# epochs) 6e-16, chapter 7 LSTM (30 batches) 2.6e-16; 1e-8 leaves room for round-off amplified over long runs.
RECIPE_RTOL: Final = 1e-8

# Chapter 4 (twelve MNIST experiments): the largest relative difference the recipe reports as "agree"; above it,
# it explains round-off amplified by training and still passes. Quick runs (1200 rows, 3-6 epochs) measured
# 2e-14 to 4e-7 (experiment 7), full runs up to 0.7 in the logits after 2 epochs (see ch4.ROUNDOFF_NOTE).
RECIPE_ROUNDOFF_RTOL: Final = 1e-6

# ---- The book's printed outputs (parity_tests.book) ---------------------------------------------------------

# Two numbers printed with 15 or more significant digits (a float64 in full) agree within this relative error:
# summation order changes their last digits. Measured over every notebook in quick mode: the worst such pair
# differs by 1.3e-14 (5.53349015923007 printed by the book, 5.5334901592299985 here); the pairs that differ more
# are float32 values (6e-8 and more), judged by the rule below.
BOOK_FULL_PRECISION_RTOL: Final = 1e-12

# A float32 value printed in full (torch's ``loss.item()``: 437.97467041015625) may differ by this many float32
# units in the last place: the book's saved first Boston loss and torch 2.13's differ by one (kernels' summation
# order); measured, not chosen.
BOOK_FLOAT32_ULPS: Final = 1

# The targets of a chaotic run that drifts on this machine as the book's own code does (issue 11): the final
# accuracy within 1.5 points of the book's, early stopping at the same evaluation or the next/previous one. The
# full run of docs/book-reproduction.md measured gaps of 0.01 to 0.25 points over its six drifting outputs,
# every early stop within one evaluation; the book's own code drifts by up to about 1.6 points between BLAS
# builds and thread counts (shared/BOOK-CODE.md).
BOOK_DRIFT_ACCURACY_POINTS: Final = 1.5
BOOK_DRIFT_STOP_EVALUATIONS: Final = 1


def category_of(key: str) -> str:
    """The tolerance category of a result key (``output``, ``grad:W``, ``traj:W``, ``loss:epoch``...)."""
    if key.startswith("grad:"):
        return "gradient"
    if key.startswith(("traj:", "epoch:")):
        return "trajectory"
    return "forward"


def tolerance_for(dtype: str, key: str) -> float:
    """The tolerance for result ``key`` compared in ``dtype`` (``"float64"`` or ``"float32"``)."""
    try:
        tier = TOLERANCES[dtype]
    except KeyError:
        raise ValueError(f"dtype must be one of {tuple(TOLERANCES)}; received {dtype!r}") from None
    return tier[category_of(key)]
