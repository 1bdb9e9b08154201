"""Reverse-mode automatic differentiation (chapter 6's ``NumberWithGrad``, done right, and an array version).

The book's ``NumberWithGrad.backward`` recurses into its inputs immediately, passing along its *accumulated*
gradient, with no ordering of the graph. That is right for trees, and for the book's own example, but a value
that is used more than once (a "diamond") is over-counted: with ``b = 2a`` and ``c = b + b`` it reports
``dc/da = 6`` instead of 4, and with ``c = b·b`` at ``a = 3`` it reports 36 instead of 24 (erratum E12
of ``docs/porting-guide.md``).

Here both classes share one engine:

1. ``_backward_order(root)`` collects every node reachable from ``root`` through inputs that need a gradient
   and returns them in *reverse topological order*: every node comes before all of its inputs, hence after
   all of its consumers. The walk is an iterative depth-first post-order (an explicit stack, so deep graphs
   do not hit Python's recursion limit).
2. ``_run_backward(root, seed)`` walks that list once. It holds one gradient per node in a table; when it
   reaches a node, every consumer has already added its contribution, so the node's gradient is complete,
   and only then is it sent (through the op's local derivative rules) to the node's inputs, where it is
   *added* to what is already there. A value used k times therefore receives exactly the sum of its k
   contributions.
3. Finally each node's complete gradient is added to its ``.grad``.

**Test hook.** ``_backward_order`` is a module-level function looked up at every call of ``backward``, so a
test (or the project's mutation self-test) can replace ``scratch.autodiff._backward_order`` with a naive order
— for instance the book's depth-first walk that lists a node once per path, or a pre-order walk that visits a
shared node before all of its consumers — and the reuse tests must then fail. The engine trusts the order it
is given: a node listed twice propagates its (accumulated) gradient twice, like the book's recursion, and a
node listed before one of its consumers propagates an incomplete gradient.

**Accumulation.** As in the book (and like ``torch``'s leaf ``.grad``), repeated ``backward`` calls *add*
into ``.grad``; call ``zero_grad()`` on each node (or build a fresh graph) to start again. ``.grad`` is
``None`` until a backward pass reaches the node. Unlike torch, intermediate ``Tensor`` nodes that need a
gradient also keep their ``.grad``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from numbers import Integral, Real
from typing import Any, Union

import numpy as np

from . import fundamentals
from ._validation import _describe, check_float_array, check_real

GradFn = Callable[[Any], Any]


class _Node:
    """A vertex of the computation graph: its inputs and, for each, a rule mapping this node's gradient
    to that input's contribution."""

    grad: Any

    @property
    def _parents(self) -> Sequence[_Node]:
        raise NotImplementedError

    @property
    def _grad_fns(self) -> Sequence[GradFn]:
        raise NotImplementedError

    def _accumulate_grad(self, grad: Any) -> None:
        raise NotImplementedError


def _backward_order(root: _Node) -> list[_Node]:
    """Every node reachable from ``root`` once, each before all of its inputs (reverse topological order).

    Iterative depth-first post-order, reversed: a node is appended only after all of its inputs have been,
    so in the reversed list it precedes them and follows every node that consumes it. Replaceable by tests
    (see the module docstring).
    """
    post_order: list[_Node] = []
    visited: set[int] = set()
    stack: list[tuple[_Node, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            post_order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if id(parent) not in visited:
                stack.append((parent, False))
    post_order.reverse()
    return post_order


def _run_backward(root: _Node, seed: Any) -> None:
    """Send ``seed`` (d root / d root) backwards through the graph in ``_backward_order(root)``."""
    order = _backward_order(root)
    grads: dict[int, Any] = {id(root): seed}
    nodes: dict[int, _Node] = {id(root): root}
    for node in order:
        grad = grads.get(id(node))
        if grad is None:  # nothing flows into this node (only possible with a broken order)
            continue
        for parent, grad_fn in zip(node._parents, node._grad_fns, strict=True):
            contribution = grad_fn(grad)
            key = id(parent)
            if key in grads:
                grads[key] = grads[key] + contribution  # never in place: arrays may be shared
            else:
                grads[key] = contribution
                nodes[key] = parent
    for key, grad in grads.items():
        nodes[key]._accumulate_grad(grad)


# ---------------------------------------------------------------------------------------------------------
# Chapter 6: scalars
# ---------------------------------------------------------------------------------------------------------

_CREATION_OPS = ("", "add", "mul")


def _check_number(value: Any, name: str) -> float:
    """``value`` as a finite Python number of its own kind: an ``int`` stays an ``int`` (so integer graphs
    give integer gradients, as in the book's notebook), anything else real becomes a ``float``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number; received {_describe(value)}")
    if isinstance(value, Integral):
        return int(value)
    return check_real(value, name)


class NumberWithGrad(_Node):
    """A real number that records how it was made, so ``backward`` can compute d(output)/d(it).

    ``NumberWithGrad(num, depends_on=None, creation_op="")``: the book's signature. ``creation_op`` is
    ``""`` for a leaf (then ``depends_on`` must be empty) or ``"add"`` / ``"mul"`` with exactly two
    ``depends_on`` entries. ``+`` and ``*`` accept a ``NumberWithGrad`` or a real number on either side (a
    plain number becomes a fresh leaf, as in the book's ``ensure_number``).

    Backward rules (for an upstream gradient g of this node):

    * ``add``: both inputs receive g;
    * ``mul`` (x·y): x receives g·y, y receives g·x.

    Numbers keep their kind: integers stay integers (``NumberWithGrad(3)`` gets integer gradients, as the book's
    notebook prints them), any other real number is a float.

    ``backward(backward_grad=None)`` seeds this node with ``backward_grad`` (1 if omitted) and propagates in
    reverse topological order, so reused values are counted exactly once per use. Every node reached
    (leaves and intermediates) gets its gradient *added* to ``.grad`` (``None`` before the first pass);
    ``zero_grad()`` resets this node's ``.grad`` to ``None``.
    """

    def __init__(
        self,
        num: float,
        depends_on: Sequence[NumberWithGrad] | None = None,
        creation_op: str = "",
    ) -> None:
        self.num = _check_number(num, "num")
        deps = list(depends_on) if depends_on is not None else []
        for i, dep in enumerate(deps):
            if not isinstance(dep, NumberWithGrad):
                raise TypeError(f"depends_on[{i}] must be a NumberWithGrad; received {_describe(dep)}")
        if creation_op not in _CREATION_OPS:
            raise ValueError(f"creation_op must be one of {_CREATION_OPS!r}; received {creation_op!r}")
        expected = 0 if creation_op == "" else 2
        if len(deps) != expected:
            raise ValueError(f"creation_op {creation_op!r} needs {expected} depends_on entries; received {len(deps)}")
        self.depends_on: list[NumberWithGrad] = deps
        self.creation_op = creation_op
        self.grad: float | None = None

    @staticmethod
    def _ensure(other: Any) -> NumberWithGrad:
        if isinstance(other, NumberWithGrad):
            return other
        if isinstance(other, bool) or not isinstance(other, Real):
            raise TypeError(f"operand must be a NumberWithGrad or a real number; received {_describe(other)}")
        return NumberWithGrad(_check_number(other, "operand"))

    def __add__(self, other: NumberWithGrad | float) -> NumberWithGrad:
        rhs = self._ensure(other)
        return NumberWithGrad(self.num + rhs.num, depends_on=[self, rhs], creation_op="add")

    def __radd__(self, other: float) -> NumberWithGrad:
        lhs = self._ensure(other)
        return NumberWithGrad(lhs.num + self.num, depends_on=[lhs, self], creation_op="add")

    def __mul__(self, other: NumberWithGrad | float) -> NumberWithGrad:
        rhs = self._ensure(other)
        return NumberWithGrad(self.num * rhs.num, depends_on=[self, rhs], creation_op="mul")

    def __rmul__(self, other: float) -> NumberWithGrad:
        lhs = self._ensure(other)
        return NumberWithGrad(lhs.num * self.num, depends_on=[lhs, self], creation_op="mul")

    @property
    def _parents(self) -> Sequence[_Node]:
        return self.depends_on

    @property
    def _grad_fns(self) -> Sequence[GradFn]:
        if self.creation_op == "add":
            return (lambda g: g, lambda g: g)
        if self.creation_op == "mul":
            x, y = self.depends_on[0].num, self.depends_on[1].num
            return (lambda g: g * y, lambda g: g * x)
        return ()

    def _accumulate_grad(self, grad: Any) -> None:
        self.grad = grad if self.grad is None else self.grad + grad

    def backward(self, backward_grad: float | None = None) -> None:
        """Add d(self)/d(node) · ``backward_grad`` (default 1) to ``.grad`` of every node self depends on."""
        seed = 1 if backward_grad is None else _check_number(backward_grad, "backward_grad")
        _run_backward(self, seed)

    def zero_grad(self) -> None:
        """Reset this node's ``.grad`` to ``None``."""
        self.grad = None

    def __repr__(self) -> str:
        return f"NumberWithGrad({self.num!r}, creation_op={self.creation_op!r}, grad={self.grad!r})"


# ---------------------------------------------------------------------------------------------------------
# Arrays
# ---------------------------------------------------------------------------------------------------------

Operand = Union["Tensor", np.ndarray, float, int]
AxisArg = int | tuple[int, ...] | None


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` (shaped like a broadcast result) back down to ``shape``: over the leading axes that
    broadcasting added, and (keeping the axis) over every axis where ``shape`` has size 1."""
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _normalize_axes(axis: AxisArg, ndim: int, name: str = "axis") -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple of ints; negatives allowed) as sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    raw = (axis,) if not isinstance(axis, tuple) else axis
    out: list[int] = []
    for a in raw:
        if isinstance(a, bool) or not isinstance(a, Integral):
            raise TypeError(f"{name} must be None, an int or a tuple of ints; received {_describe(axis)}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{name} {int(a)} is out of range for a {ndim}-D tensor (valid: {-ndim}..{ndim - 1})")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat an axis; received {axis!r}")
    return tuple(sorted(out))


class Tensor(_Node):
    """A float ndarray that records the operations applied to it, for reverse-mode differentiation.

    ``Tensor(value, requires_grad=False)``: ``value`` must be a floating-point ``numpy.ndarray`` (any shape,
    0-d included, finite). Results of operations need a gradient when any input does; only those take part
    in ``backward``. Python reals and float ndarrays are accepted as the other operand on either side of
    ``+ - * / @`` (ndarrays on the left work too: ``Tensor`` opts out of NumPy's ufunc dispatch).

    Backward rules, for an upstream gradient G shaped like the output (B(·) below sums a gradient back to an
    input's shape: over leading axes that broadcasting added, and with keepdims over axes where the input
    had size 1; every input gradient has exactly its input's shape):

    * ``a + b``: B(G), B(G);   ``a - b``: B(G), B(-G);   ``-a``: -G
    * ``a * b``: B(G·b), B(G·a);   ``a / b``: B(G/b), B(-G·a/b²)
    * ``a @ b`` (NumPy matmul rules, batch dims broadcast, 1-D operands promoted then squeezed):
      dA = G @ bᵀ, dB = aᵀ @ G (transposes swap the last two axes), then B(·) over the batch dims
    * ``a ** p`` (p a real number): G·p·a^(p-1)
    * ``exp``: G·out;  ``log`` (a > 0): G/a;  ``tanh``: G·(1 - out²);  ``sigmoid``: G·out·(1 - out)
    * ``sum(axis, keepdims)``: G (reduced axes re-inserted when not keepdims) broadcast to a's shape;
      ``mean``: the same divided by the number of summed elements
    * ``reshape``: G reshaped to a's shape;  ``transpose(axes)``: G transposed by the inverse permutation
    * ``a[key]`` (ints, slices, integer arrays, Ellipsis, None): zeros of a's shape with G scattered by
      ``np.add.at`` (so repeated indices add up)

    ``backward(grad=None)``: ``grad`` may be omitted only for a one-element output (it defaults to ones);
    otherwise it must be a float array of the output's shape. Gradients are added to ``.grad`` (``None``
    until reached) of every node that needs one, leaves and intermediates; ``zero_grad()`` resets it.
    """

    __array_ufunc__ = None  # make ``ndarray + Tensor`` call Tensor.__radd__

    def __init__(self, value: np.ndarray, requires_grad: bool = False) -> None:
        check_float_array(value, "value", allow_empty=True)
        if not isinstance(requires_grad, bool):
            raise TypeError(f"requires_grad must be a bool; received {_describe(requires_grad)}")
        self.value: np.ndarray = value
        self.requires_grad: bool = requires_grad
        self.grad: np.ndarray | None = None
        self._inputs: tuple[Tensor, ...] = ()
        self._rules: tuple[GradFn, ...] = ()
        self.creation_op: str = ""

    # ----- construction helpers -----

    @classmethod
    def _result(cls, value: np.ndarray, op: str, pairs: Sequence[tuple[Tensor, GradFn]]) -> Tensor:
        """A new node for ``value``, keeping only the inputs that need a gradient."""
        out = cls.__new__(cls)
        out.value = np.asarray(value)
        kept = [(t, fn) for t, fn in pairs if t.requires_grad]
        out.requires_grad = bool(kept)
        out.grad = None
        out._inputs = tuple(t for t, _ in kept)
        out._rules = tuple(fn for _, fn in kept)
        out.creation_op = op
        return out

    def _coerce(self, other: Any, op: str) -> Tensor:
        """The other operand of a binary op as a constant Tensor (or itself, if already a Tensor)."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, np.ndarray):
            if other.dtype.kind != "f":
                raise TypeError(
                    f"{op}: an ndarray operand must have a floating-point dtype; received dtype {other.dtype}"
                )
            return Tensor._result(other, "", ())
        if isinstance(other, bool) or not isinstance(other, Real):
            raise TypeError(
                f"{op}: the other operand must be a Tensor, a float ndarray or a real number; "
                f"received {_describe(other)}"
            )
        return Tensor._result(np.asarray(float(other), dtype=self.value.dtype), "", ())

    @staticmethod
    def _check_broadcast(a: Tensor, b: Tensor, op: str) -> None:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(
                f"{op}: operand shapes must be broadcast-compatible; received {a.shape} and {b.shape}"
            ) from None

    # ----- properties -----

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def ndim(self) -> int:
        return int(self.value.ndim)

    @property
    def size(self) -> int:
        return int(self.value.size)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.value.dtype

    @property
    def T(self) -> Tensor:
        """All axes reversed (``transpose()``)."""
        return self.transpose()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"Tensor({self.value!r}, requires_grad={self.requires_grad})"

    # ----- engine interface -----

    @property
    def _parents(self) -> Sequence[_Node]:
        return self._inputs

    @property
    def _grad_fns(self) -> Sequence[GradFn]:
        return self._rules

    def _accumulate_grad(self, grad: Any) -> None:
        g = np.array(grad, dtype=self.value.dtype)  # a copy: never alias an upstream or user array
        self.grad = g if self.grad is None else self.grad + g

    def backward(self, grad: np.ndarray | float | None = None) -> None:
        """Add d(self · grad)/d(node) to ``.grad`` of every node self depends on that needs a gradient."""
        if not self.requires_grad:
            raise ValueError("backward() needs a Tensor that requires grad; received one with requires_grad=False")
        if grad is None:
            if self.size != 1:
                raise ValueError(
                    f"backward() without grad is only defined for a one-element output; received output shape "
                    f"{self.shape} (pass grad with that shape)"
                )
            seed = np.ones(self.shape, dtype=self.dtype)
        elif isinstance(grad, np.ndarray):
            check_float_array(grad, "grad", allow_empty=True)
            if grad.shape != self.shape:
                raise ValueError(f"grad must have the output's shape {self.shape}; received shape {grad.shape}")
            seed = grad
        else:
            seed = np.full(self.shape, check_real(grad, "grad"), dtype=self.dtype)
        _run_backward(self, seed)

    def zero_grad(self) -> None:
        """Reset this node's ``.grad`` to ``None``."""
        self.grad = None

    # ----- elementwise binary ops -----

    def _add(self, a: Tensor, b: Tensor, op: str) -> Tensor:
        self._check_broadcast(a, b, op)
        return Tensor._result(
            a.value + b.value,
            "add",
            [(a, lambda g: _unbroadcast(g, a.shape)), (b, lambda g: _unbroadcast(g, b.shape))],
        )

    def _sub(self, a: Tensor, b: Tensor, op: str) -> Tensor:
        self._check_broadcast(a, b, op)
        return Tensor._result(
            a.value - b.value,
            "sub",
            [(a, lambda g: _unbroadcast(g, a.shape)), (b, lambda g: _unbroadcast(-g, b.shape))],
        )

    def _mul(self, a: Tensor, b: Tensor, op: str) -> Tensor:
        self._check_broadcast(a, b, op)
        return Tensor._result(
            a.value * b.value,
            "mul",
            [(a, lambda g: _unbroadcast(g * b.value, a.shape)), (b, lambda g: _unbroadcast(g * a.value, b.shape))],
        )

    def _div(self, a: Tensor, b: Tensor, op: str) -> Tensor:
        self._check_broadcast(a, b, op)
        if np.any(b.value == 0):
            raise ValueError(f"{op}: the divisor must be non-zero everywhere; received {b.shape} with zeros")
        return Tensor._result(
            a.value / b.value,
            "div",
            [
                (a, lambda g: _unbroadcast(g / b.value, a.shape)),
                (b, lambda g: _unbroadcast(-g * a.value / (b.value * b.value), b.shape)),
            ],
        )

    def __add__(self, other: Operand) -> Tensor:
        return self._add(self, self._coerce(other, "+"), "+")

    def __radd__(self, other: Operand) -> Tensor:
        return self._add(self._coerce(other, "+"), self, "+")

    def __sub__(self, other: Operand) -> Tensor:
        return self._sub(self, self._coerce(other, "-"), "-")

    def __rsub__(self, other: Operand) -> Tensor:
        return self._sub(self._coerce(other, "-"), self, "-")

    def __mul__(self, other: Operand) -> Tensor:
        return self._mul(self, self._coerce(other, "*"), "*")

    def __rmul__(self, other: Operand) -> Tensor:
        return self._mul(self._coerce(other, "*"), self, "*")

    def __truediv__(self, other: Operand) -> Tensor:
        return self._div(self, self._coerce(other, "/"), "/")

    def __rtruediv__(self, other: Operand) -> Tensor:
        return self._div(self._coerce(other, "/"), self, "/")

    def __neg__(self) -> Tensor:
        return Tensor._result(-self.value, "neg", [(self, lambda g: -g)])

    # ----- matmul -----

    def _matmul(self, a: Tensor, b: Tensor) -> Tensor:
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"@: both operands must be at least 1-D; received shapes {a.shape} and {b.shape}")
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != inner_b:
            raise ValueError(
                f"@: the last axis of the left operand must match the {'only' if b.ndim == 1 else 'second-to-last'} "
                f"axis of the right one; received shapes {a.shape} and {b.shape}"
            )
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"@: batch dimensions must be broadcast-compatible; received shapes {a.shape} and {b.shape}"
            ) from None
        a2 = a.value[None, :] if a.ndim == 1 else a.value  # [..., n, k]
        b2 = b.value[:, None] if b.ndim == 1 else b.value  # [..., k, m]

        def lifted(g: np.ndarray) -> np.ndarray:
            """G with the axes that the 1-D promotion squeezed away put back: [..., n, m]."""
            if b.ndim == 1:
                g = np.expand_dims(g, -1)
            if a.ndim == 1:
                g = np.expand_dims(g, -2)
            return g

        def grad_a(g: np.ndarray) -> np.ndarray:
            return _unbroadcast(lifted(g) @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)

        def grad_b(g: np.ndarray) -> np.ndarray:
            return _unbroadcast(np.swapaxes(a2, -1, -2) @ lifted(g), b2.shape).reshape(b.shape)

        return Tensor._result(a.value @ b.value, "matmul", [(a, grad_a), (b, grad_b)])

    def __matmul__(self, other: Operand) -> Tensor:
        return self._matmul(self, self._coerce(other, "@"))

    def __rmatmul__(self, other: Operand) -> Tensor:
        return self._matmul(self._coerce(other, "@"), self)

    # ----- unary ops -----

    def __pow__(self, exponent: float) -> Tensor:
        if isinstance(exponent, bool) or not isinstance(exponent, Real):
            raise TypeError(f"**: the exponent must be a real number (scalar); received {_describe(exponent)}")
        p = float(exponent)
        a = self.value
        return Tensor._result(a**p, "pow", [(self, lambda g: g * p * a ** (p - 1.0))])

    def exp(self) -> Tensor:
        out = np.exp(self.value)
        return Tensor._result(out, "exp", [(self, lambda g: g * out)])

    def log(self) -> Tensor:
        a = self.value
        if a.size and not np.all(a > 0):
            raise ValueError(f"log needs strictly positive values; received a minimum of {a.min()!r}")
        return Tensor._result(np.log(a), "log", [(self, lambda g: g / a)])

    def tanh(self) -> Tensor:
        out = np.tanh(self.value)
        return Tensor._result(out, "tanh", [(self, lambda g: g * (1.0 - out * out))])

    def sigmoid(self) -> Tensor:
        out = np.asarray(fundamentals.sigmoid(self.value))  # the package's one sigmoid (a 0-d input gives a scalar)
        return Tensor._result(out, "sigmoid", [(self, lambda g: g * out * (1.0 - out))])

    # ----- reductions -----

    def sum(self, axis: AxisArg = None, keepdims: bool = False) -> Tensor:
        axes = _normalize_axes(axis, self.ndim)
        shape = self.shape

        def rule(g: np.ndarray) -> np.ndarray:
            if not keepdims:
                g = np.expand_dims(g, axes)
            return np.broadcast_to(g, shape).copy()

        return Tensor._result(np.sum(self.value, axis=axes, keepdims=keepdims), "sum", [(self, rule)])

    def mean(self, axis: AxisArg = None, keepdims: bool = False) -> Tensor:
        axes = _normalize_axes(axis, self.ndim)
        count = int(np.prod([self.shape[i] for i in axes], dtype=np.int64))
        if count == 0:
            raise ValueError(f"mean over axis {axis!r} of shape {self.shape} averages zero elements")
        shape = self.shape

        def rule(g: np.ndarray) -> np.ndarray:
            if not keepdims:
                g = np.expand_dims(g, axes)
            return np.broadcast_to(g / count, shape).copy()

        return Tensor._result(np.mean(self.value, axis=axes, keepdims=keepdims), "mean", [(self, rule)])

    # ----- shape ops -----

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        """``t.reshape(2, 3)`` or ``t.reshape((2, 3))``; one entry may be -1."""
        target: Any = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
        for n in target:
            if isinstance(n, bool) or not isinstance(n, Integral):
                raise TypeError(f"reshape: the new shape must be ints; received {target!r}")
        try:
            out = self.value.reshape(target)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape shape {self.shape} (size {self.size}) into {target!r}") from None
        old = self.shape
        return Tensor._result(out, "reshape", [(self, lambda g: g.reshape(old))])

    def transpose(self, axes: Sequence[int] | None = None) -> Tensor:
        """Permute the axes (reverse them when ``axes`` is None)."""
        if axes is None:
            perm = tuple(range(self.ndim))[::-1]
        else:
            perm = tuple(axes)
            for a in perm:
                if isinstance(a, bool) or not isinstance(a, Integral):
                    raise TypeError(f"transpose: axes must be ints; received {axes!r}")
            if sorted(int(a) % self.ndim if self.ndim else a for a in perm) != list(range(self.ndim)) or any(
                not -self.ndim <= a < self.ndim for a in perm
            ):
                raise ValueError(
                    f"transpose: axes must be a permutation of 0..{self.ndim - 1}; received {tuple(axes)!r}"
                )
            perm = tuple(int(a) % self.ndim for a in perm)
        inverse = tuple(int(i) for i in np.argsort(perm))
        return Tensor._result(np.transpose(self.value, perm), "transpose", [(self, lambda g: np.transpose(g, inverse))])

    def __getitem__(self, key: Any) -> Tensor:
        parts = key if isinstance(key, tuple) else (key,)
        for part in parts:
            if isinstance(part, Tensor):
                raise TypeError("index: use an integer ndarray, not a Tensor, as an index")
            if isinstance(part, np.ndarray) and part.dtype.kind not in "iu":
                raise TypeError(f"index arrays must have an integer dtype; received dtype {part.dtype}")
            if isinstance(part, list):
                raise TypeError("index: use an integer ndarray, not a list, as an index array")
            if not (
                part is None
                or part is Ellipsis
                or isinstance(part, slice | np.ndarray)
                or (isinstance(part, Integral) and not isinstance(part, bool))
            ):
                raise TypeError(
                    f"index parts must be ints, slices, integer ndarrays, Ellipsis or None; received {_describe(part)}"
                )
        try:
            out = self.value[key]
        except IndexError as err:
            raise ValueError(f"index {key!r} is out of range for shape {self.shape}: {err}") from None
        shape, dtype = self.shape, self.dtype

        def rule(g: np.ndarray) -> np.ndarray:
            full = np.zeros(shape, dtype=dtype)
            np.add.at(full, key, g)
            return full

        return Tensor._result(np.array(out), "getitem", [(self, rule)])
