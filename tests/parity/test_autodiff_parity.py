"""``scratch.autodiff.Tensor`` against torch autograd on graphs that reuse values.

The same graph is built in both frameworks from the same float64 inputs through a tiny op table (one
scratch and one torch callable per op name), then every leaf gradient is compared: max |scratch - torch|
<= 1e-12 · max |torch|, and the torch gradient must not be near zero (so the check is not vacuous).

Graphs: a few hand-written ones (diamond, a value used three times, c = b·b, a matmul chain) and 40 random
ones from a seeded builder that draws ops (broadcasting arithmetic, batched matmul, tanh/sigmoid/exp/log,
powers, reductions with keepdims, indexing with repeated indices, a permute-reshape) and operands from
everything built so far, preferring recent nodes; the root reuses a value that was already consumed (so
every graph has a node with at least two consumers) and adds every value nobody consumed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

from scratch.autodiff import Tensor

REL_TOL = 1e-12
IDX = np.array([0, 0, 3, 1])  # repeated index along an axis of size 4

# name -> (scratch callable, torch callable); both take and return their framework's tensors.
OPS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (b * b + 1.0), lambda a, b: a / (b * b + 1.0)),
    "rsub_scalar": (lambda a: 1.5 - a, lambda a: 1.5 - a),
    "rdiv_scalar": (lambda a: 2.0 / (a * a + 0.5), lambda a: 2.0 / (a * a + 0.5)),
    "neg": (lambda a: -a, lambda a: -a),
    "square": (lambda a: a**2, lambda a: a**2),
    "cube": (lambda a: a**3, lambda a: a**3),
    "sqrt_pow": (lambda a: a**0.5, lambda a: a**0.5),  # positive operands only
    "exp": (lambda a: a.exp(), torch.exp),  # operands below 3 only
    "log": (lambda a: a.log(), torch.log),  # positive operands only
    "tanh": (lambda a: a.tanh(), torch.tanh),
    "sigmoid": (lambda a: a.sigmoid(), torch.sigmoid),
    "matmul_W": (lambda a, w: a @ w, lambda a, w: a @ w),
    "matmul_WT": (lambda a, w: a @ w.T, lambda a, w: a @ w.T),
    "matmul_WB": (lambda a, w: a @ w, lambda a, w: a @ w),  # batched [2, 4, 4] weight
    "sum_keepdims": (lambda a, ax: a.sum(axis=ax, keepdims=True), lambda a, ax: a.sum(dim=ax, keepdim=True)),
    "mean_keepdims": (lambda a, ax: a.mean(axis=ax, keepdims=True), lambda a, ax: a.mean(dim=ax, keepdim=True)),
    "sum_leading": (lambda a: a.sum(axis=0), lambda a: a.sum(dim=0)),
    "index_repeated": (lambda a: a[..., IDX], lambda a: a[..., torch.from_numpy(IDX)]),
    "permute_reshape": (
        lambda a: a.transpose((2, 1, 0)).reshape(a.shape),
        lambda a: a.permute(2, 1, 0).reshape(a.shape),
    ),
}

LEAF_SHAPES = {"X": (2, 3, 4), "Y": (2, 3, 4), "row": (4,), "col": (3, 1), "batch": (2, 1, 1)}
WEIGHT_SHAPES = {"W": (4, 4), "WB": (2, 4, 4)}


@dataclass
class Graph:
    """One graph built in both frameworks: the leaves, the root, the op names used and use counts."""

    scratch_leaves: dict[str, Tensor]
    torch_leaves: dict[str, torch.Tensor]
    scratch_root: Tensor
    torch_root: torch.Tensor
    upstream: np.ndarray | None
    ops_used: list[str] = field(default_factory=list)
    max_uses: int = 0


def _leaves(rng: np.random.Generator, shapes: dict[str, tuple[int, ...]]) -> tuple[dict, dict]:
    s_leaves: dict[str, Tensor] = {}
    t_leaves: dict[str, torch.Tensor] = {}
    for name, shape in shapes.items():
        x = rng.normal(size=shape) * (0.5 if name in WEIGHT_SHAPES else 1.0)
        s_leaves[name] = Tensor(x.copy(), requires_grad=True)
        t_leaves[name] = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    return s_leaves, t_leaves


def _applicable(name: str, v: np.ndarray) -> bool:
    """Whether op ``name`` is defined (and numerically tame) on an operand with value ``v``."""
    if name == "exp":
        return bool(v.max() < 3.0)
    if name in ("log", "sqrt_pow"):
        return bool(v.min() > 0.05)
    if name in ("matmul_W", "matmul_WT", "matmul_WB"):
        return v.ndim >= 2 and v.shape[-1] == 4
    if name == "sum_leading":
        return v.ndim == 3
    if name == "index_repeated":
        return v.ndim >= 1 and v.shape[-1] == 4
    if name == "permute_reshape":
        return v.ndim == 3
    if name in ("sum_keepdims", "mean_keepdims"):
        return any(n > 1 for n in v.shape)
    if name in ("square", "cube"):
        return bool(np.abs(v).max() < 10.0)
    return True


def random_graph(seed: int, n_ops: int = 10) -> Graph:
    """A random graph of ``n_ops`` ops (plus a final reuse) applied identically to scratch and torch."""
    rng = np.random.default_rng(seed)
    s_leaves, t_leaves = _leaves(rng, {**LEAF_SHAPES, **WEIGHT_SHAPES})
    pool: list[tuple[Any, Any]] = [(s_leaves[k], t_leaves[k]) for k in LEAF_SHAPES]
    uses = [0] * len(pool)
    ops_used: list[str] = []
    binary = {"add", "sub", "mul", "div"}
    names = list(OPS)
    while len(ops_used) < n_ops:
        name = names[int(rng.integers(len(names)))]
        i = len(pool) - 1 if rng.random() < 0.5 else int(rng.integers(len(pool)))
        s_a, t_a = pool[i]
        if not _applicable(name, s_a.value):
            continue
        s_fn, t_fn = OPS[name]
        if name in binary:
            # the second operand is a leaf more often than not, so that most leaves take part
            j = int(rng.integers(len(LEAF_SHAPES) if rng.random() < 0.6 else len(pool)))
            if j == i:  # a - a, a / (a² + 1)...: keep clear of exact cancellations
                continue
            s_out, t_out = s_fn(s_a, pool[j][0]), t_fn(t_a, pool[j][1])
            uses[j] += 1
        elif name.startswith("matmul"):
            w = "WB" if name == "matmul_WB" else "W"
            s_out, t_out = s_fn(s_a, s_leaves[w]), t_fn(t_a, t_leaves[w])
        elif name.endswith("_keepdims"):
            axes = [k for k, n in enumerate(s_a.shape) if n > 1]
            ax = axes[int(rng.integers(len(axes)))]
            s_out, t_out = s_fn(s_a, ax), t_fn(t_a, ax)
        else:
            s_out, t_out = s_fn(s_a), t_fn(t_a)
        uses[i] += 1
        pool.append((s_out, t_out))
        uses.append(0)
        ops_used.append(name)
    # Final step: reuse a value that already has a consumer (interior if possible), so it has two or more.
    last = len(pool) - 1
    consumed = [k for k in range(last) if uses[k] >= 1]
    interior = [k for k in consumed if k >= len(LEAF_SHAPES)]
    k = (interior or consumed)[int(rng.integers(len(interior or consumed)))]
    uses[k] += 1
    uses[last] += 1
    s_root = pool[last][0] * pool[k][0].tanh() + pool[k][0]
    t_root = pool[last][1] * torch.tanh(pool[k][1]) + pool[k][1]
    # Every other value nobody consumed (dead branches, unused leaves) joins the root, so all of them count.
    for d in range(last):
        if uses[d] == 0:
            s_root = s_root + pool[d][0] * 0.5
            t_root = t_root + pool[d][1] * 0.5
    upstream: np.ndarray | None = None
    if seed % 2:  # odd seeds: non-scalar root with a random upstream gradient
        upstream = rng.normal(size=s_root.shape)
    else:
        s_root, t_root = s_root.sum(), t_root.sum()
    return Graph(s_leaves, t_leaves, s_root, t_root, upstream, ops_used, max(uses))


def _run_and_compare(graph: Graph) -> int:
    """Backward in both frameworks; compare every leaf gradient. Returns how many leaves were compared."""
    if graph.upstream is None:
        graph.scratch_root.backward()
        graph.torch_root.backward()
    else:
        graph.scratch_root.backward(graph.upstream.copy())
        graph.torch_root.backward(torch.from_numpy(graph.upstream))
    np.testing.assert_allclose(
        graph.scratch_root.value, graph.torch_root.detach().numpy(), rtol=REL_TOL, atol=0.0, err_msg="forward"
    )
    compared = 0
    for name, s_leaf in graph.scratch_leaves.items():
        t_grad = graph.torch_leaves[name].grad
        if t_grad is None:
            assert s_leaf.grad is None, f"{name}: torch gives no gradient, scratch does"
            continue
        assert s_leaf.grad is not None, f"{name}: scratch gives no gradient, torch does"
        ref = t_grad.numpy()
        assert s_leaf.grad.shape == ref.shape, name
        scale = float(np.abs(ref).max())
        assert scale > 1e-8, f"{name}: reference gradient is near zero ({scale:.3g}); the check would be vacuous"
        rel = float(np.abs(s_leaf.grad - ref).max()) / scale
        assert rel <= REL_TOL, f"{name}: relative gradient difference {rel:.3g} > {REL_TOL}"
        compared += 1
    return compared


# ------------------------------------------------------------------------------------------------------
# Hand-written graphs
# ------------------------------------------------------------------------------------------------------


def _diamond(ops: str, x: Any, w: Any) -> Any:
    i = 0 if ops == "scratch" else 1
    e = OPS["matmul_W"][i](x, w)  # shared interior node, two consumers
    return OPS["tanh"][i](e) * OPS["sigmoid"][i](e)


def _used_three_times(ops: str, x: Any, w: Any) -> Any:
    i = 0 if ops == "scratch" else 1
    b = x * 2.0 + 0.25
    return b * OPS["exp"][i](OPS["tanh"][i](b)) - OPS["log"][i](b * b + 1.0)


def _b_times_b(ops: str, x: Any, w: Any) -> Any:
    b = x * 2.0
    return b * b


def _matmul_chain(ops: str, x: Any, w: Any) -> Any:
    i = 0 if ops == "scratch" else 1
    h = OPS["tanh"][i](x @ w)
    h = OPS["sigmoid"][i](h @ w.T + x)  # x and w reused
    return (h @ w).mean(**({"axis": 0} if ops == "scratch" else {"dim": 0}))


@pytest.mark.parametrize("build", [_diamond, _used_three_times, _b_times_b, _matmul_chain])
def test_hand_written_graph(build):
    rng = np.random.default_rng(7)
    s_leaves, t_leaves = _leaves(rng, {"X": (2, 3, 4), "W": (4, 4)})
    s_root = build("scratch", s_leaves["X"], s_leaves["W"])
    t_root = build("torch", t_leaves["X"], t_leaves["W"])
    upstream = rng.normal(size=s_root.shape)
    graph = Graph(s_leaves, t_leaves, s_root, t_root, upstream)
    assert _run_and_compare(graph) >= 1


def test_b_times_b_matches_the_hand_derivative():
    x = Tensor(np.array([3.0]), requires_grad=True)
    t = torch.tensor([3.0], dtype=torch.float64, requires_grad=True)
    b = x * 2.0
    (b * b).sum().backward()  # c = b·b = 4x²: 8x = 24 (the book's recursion gives 36)
    tb = t * 2.0
    (tb * tb).sum().backward()
    assert x.grad is not None
    assert t.grad is not None
    assert float(x.grad[0]) == float(t.grad[0]) == 24.0


# ------------------------------------------------------------------------------------------------------
# Random graphs
# ------------------------------------------------------------------------------------------------------

SEEDS = list(range(40))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_graph(seed):
    graph = random_graph(seed)
    assert graph.max_uses >= 2, "the graph must reuse a value"
    assert _run_and_compare(graph) >= 2


def test_random_graphs_cover_every_op():
    used = {name for seed in SEEDS for name in random_graph(seed).ops_used}
    assert used == set(OPS), f"ops never drawn: {sorted(set(OPS) - used)}"
