"""Check a port: your NumPy model against a torch module, and say where they first differ.

``check_model(numpy_model, torch_model, x, mapping=...)`` runs both on the same input and compares, under the
tolerance table's tier for the input's dtype:

1. **forward**, layer by layer: the NumPy model's layers (``layers``) and every torch submodule are recorded
   as they run; each NumPy layer's output is matched, in forward order, with the next torch output of the
   same shape that agrees (torch may have more modules: ``Linear`` then ``Sigmoid`` for one NumPy layer;
   among consecutive agreeing ones the last is taken, so an identity ``Dropout`` in eval mode is part of its
   layer). The first NumPy layer with no agreeing torch output is the **first diverging layer**;
2. the **input gradient** and **every parameter gradient** for a random upstream gradient ``dy`` (torch:
   ``(y * dy).sum().backward()``), in your layout through the map; the first one (in your parameters' order)
   that differs is the **first diverging parameter**;
3. in **training mode** (where a side has dropout): the fraction of zeros in each matched layer's output,
   which dropout sets (keep probability vs torch's drop probability ``p``), within a binomial band (only when
   the forward agrees at inference: the layers are paired by that agreement);
4. ``steps`` **optimizer steps** (``optimizers=(numpy_step, torch_optimizer)``), each with a fresh random
   ``dy``, comparing every parameter after each step: the **first diverging step**.

Forward, gradients and steps run with dropout off (NumPy ``inference=True`` where its ``forward`` takes it,
torch ``eval()``), so both sides are deterministic. The check changes both models (weights are copied in,
steps are taken).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .compare import Comparison, ComparisonSet, compare, relative_error, tolerance
from .mapping import ParamMap

if TYPE_CHECKING:
    import torch

LABELS = ("numpy", "torch")


class ParityError(AssertionError):
    """A port check failed; the message names the first diverging layer, parameter and step."""


# ---------------------------------------------------------------------------------------------------------
# Your NumPy model, as the check sees it
# ---------------------------------------------------------------------------------------------------------


@dataclass
class NumpyModel:
    """How ``check_model`` drives a NumPy model (``adapt`` fills it from the usual method names).

    ``forward(x, training)`` -> output; ``backward(dy)`` -> the input gradient (or ``None`` with
    ``input_grad`` giving it); ``params()``/``grads()`` -> name -> array (the live arrays: an optimizer
    step must change them); ``layers``: (name, object with ``forward``) in forward order, for localisation.
    """

    forward: Callable[[np.ndarray, bool], Any]
    backward: Callable[[np.ndarray], Any]
    params: Callable[[], Mapping[str, np.ndarray]]
    grads: Callable[[], Mapping[str, np.ndarray]]
    layers: list[tuple[str, Any]] = field(default_factory=list)
    input_grad: Callable[[], np.ndarray] | None = None
    has_training_mode: bool = False


def _named(value: Any, what: str) -> dict[str, np.ndarray]:
    value = value() if callable(value) else value
    if isinstance(value, Mapping):
        return dict(value)
    items = list(value)
    if items and all(isinstance(i, tuple) and len(i) == 2 for i in items):
        return dict(items)
    raise TypeError(f"{what} must be a mapping name -> array (or (name, array) pairs); received {type(value).__name__}")


def _layer_params(model: Any, attr: str) -> dict[str, np.ndarray] | None:
    """``{i}.{name}`` for a model whose ``layers`` keep ``param_names`` and list attributes (scratch's style)."""
    layers = getattr(model, "layers", None)
    if not isinstance(layers, list) or not all(hasattr(la, "param_names") for la in layers):
        return None
    out: dict[str, np.ndarray] = {}
    for i, layer in enumerate(layers):
        values = getattr(layer, attr)
        if isinstance(values, Mapping):
            out.update({f"{i}.{k}": (v["value"] if isinstance(v, Mapping) else v) for k, v in values.items()})
        elif values:  # empty before the first forward (parameters) or backward (gradients)
            out.update({f"{i}.{n}": v for n, v in zip(layer.param_names, values, strict=True)})
    return out


def _runner(fwd: Callable[..., Any]) -> tuple[Callable[[np.ndarray, bool], Any], bool]:
    """``forward(x, training)`` for a NumPy ``forward`` that takes ``inference=``, ``training=`` or neither, and
    whether it has a training mode at all."""
    parameters = set(inspect.signature(fwd).parameters)
    if "inference" in parameters:
        return (lambda x, training: fwd(x, inference=not training)), True
    if "training" in parameters:
        return (lambda x, training: fwd(x, training=training)), True
    return (lambda x, training: fwd(x)), False


def _finder(
    model: Any, explicit: Callable[[], Any] | None, names: tuple[str, ...], layer_attr: str, what: str
) -> Callable[[], dict[str, np.ndarray]]:
    """How to read the model's named ``what`` (parameters or gradients): the explicit callable, a ``named_*``
    method or a dict attribute, or scratch-style layers."""
    if explicit is not None:
        return lambda: _named(explicit, what)
    for name in names:
        found = getattr(model, name, None)
        if found is not None and (isinstance(found, Mapping) or name.startswith("named_")):
            bound: Any = found
            return lambda: _named(bound, what)
    if _layer_params(model, layer_attr) is not None:
        return lambda: _layer_params(model, layer_attr) or {}
    raise TypeError(
        f"cannot find the NumPy model's named {what}: give {what}= (a callable returning name -> array), or "
        f"give the model a named_{what}() method or a {what} dict"
    )


def _named_layers(model: Any, layers: Sequence[Any] | Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """(name, layer) in forward order: a dict's keys, or ``layers[i] ClassName`` for a list."""
    source = layers if layers is not None else getattr(model, "layers", None)
    if isinstance(source, Mapping):
        return [(str(k), v) for k, v in source.items()]
    if isinstance(source, Sequence):
        return [(f"layers[{i}] {type(la).__name__}", la) for i, la in enumerate(source)]
    return []


def adapt(
    model: Any,
    *,
    forward: Callable[..., Any] | None = None,
    backward: Callable[[np.ndarray], Any] | None = None,
    params: Callable[[], Any] | None = None,
    grads: Callable[[], Any] | None = None,
    layers: Sequence[Any] | Mapping[str, Any] | None = None,
) -> NumpyModel:
    """A ``NumpyModel`` for ``model``, from what it has: ``forward(x)`` (given ``inference=`` or ``training=``
    if it takes them), ``backward(dy)``, named parameters from ``named_params()``, a ``params`` dict or
    scratch-style layers, gradients from ``named_grads()``, a ``grads`` dict or the layers, and
    ``layers`` (a list or a dict). Any of them can be given explicitly instead."""
    if isinstance(model, NumpyModel):
        return model
    fwd = forward or getattr(model, "forward", None)
    bwd = backward or getattr(model, "backward", None)
    if not callable(fwd) or not callable(bwd):
        raise TypeError(
            f"the NumPy model needs forward(x) and backward(dy) methods (or forward=/backward= given); "
            f"{type(model).__name__} lacks them"
        )
    run, has_training = _runner(fwd)
    own = getattr(model, "layers", None)
    input_grad = None
    if isinstance(own, list) and own and hasattr(own[0], "input_grad"):
        input_grad = lambda: own[0].input_grad  # noqa: E731 - scratch's backward returns nothing
    return NumpyModel(
        run,
        bwd,
        _finder(model, params, ("named_params", "params"), "params", "params"),
        _finder(model, grads, ("named_grads", "grads"), "param_grads", "grads"),
        _named_layers(model, layers),
        input_grad,
        has_training,
    )


# ---------------------------------------------------------------------------------------------------------
# Recording layer outputs
# ---------------------------------------------------------------------------------------------------------


def _first_array(value: Any) -> Any:
    """A layer's output, or the first array/tensor inside a tuple output (``nn.LSTM`` returns (y, (h, c)))."""
    while isinstance(value, tuple | list) and value:
        value = value[0]
    return value


@contextmanager
def _record_numpy(layers: list[tuple[str, Any]], out: list[tuple[str, np.ndarray]]) -> Iterator[None]:
    patched: list[tuple[Any, bool, Any]] = []
    try:
        for name, layer in layers:
            had = "forward" in getattr(layer, "__dict__", {})
            original = layer.forward

            def wrapper(*args: Any, __f: Any = original, __n: str = name, **kwargs: Any) -> Any:
                result = __f(*args, **kwargs)
                first = _first_array(result)
                if isinstance(first, np.ndarray):
                    out.append((__n, np.array(first, copy=True)))
                return result

            layer.forward = wrapper
            patched.append((layer, had, original))
        yield
    finally:
        for layer, had, original in patched:
            if had:
                layer.forward = original
            else:
                del layer.forward


@contextmanager
def _record_torch(module: torch.nn.Module, out: list[tuple[str, Any, Any]]) -> Iterator[None]:
    import torch

    handles = []

    def hook(name: str, sub: torch.nn.Module) -> Callable[..., None]:
        def record(_m: torch.nn.Module, _inputs: Any, output: Any) -> None:
            first = _first_array(output)
            if isinstance(first, torch.Tensor):
                out.append((name, sub, first.detach().cpu().clone()))

        return record

    try:
        for name, sub in module.named_modules():
            if name:
                handles.append(sub.register_forward_hook(hook(name, sub)))
        yield
    finally:
        for h in handles:
            h.remove()


# ---------------------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------------------


@dataclass
class LayerMatch:
    """One NumPy layer output and the torch module output it was matched with (``torch`` None: no match)."""

    numpy: str
    torch: str | None
    comparison: Comparison
    hint: str = ""


@dataclass
class PortReport:
    """Everything ``check_model`` compared, and where the port first diverges."""

    dtype: str
    layers: list[LayerMatch] = field(default_factory=list)
    forward: ComparisonSet | None = None  # the model's output
    input_grad: ComparisonSet | None = None
    grads: ComparisonSet | None = None  # every parameter gradient, in your parameters' order
    training: list[str] = field(default_factory=list)  # training-mode (dropout) disagreements
    steps: list[ComparisonSet] = field(default_factory=list)

    @property
    def first_layer(self) -> LayerMatch | None:
        return next((m for m in self.layers if not m.comparison.passed), None)

    @property
    def first_param(self) -> Comparison | None:
        return next((c for c in self.grads.comparisons if not c.passed), None) if self.grads else None

    @property
    def first_step(self) -> tuple[int, Comparison] | None:
        for i, step in enumerate(self.steps, start=1):
            bad = next((c for c in step.comparisons if not c.passed), None)
            if bad is not None:
                return i, bad
        return None

    @property
    def passed(self) -> bool:
        sets = [s for s in (self.forward, self.input_grad, self.grads, *self.steps) if s is not None]
        return all(s.passed for s in sets) and self.first_layer is None and not self.training

    def message(self) -> str:
        """The localized account: first diverging layer, output, input gradient, first diverging parameter
        gradient, training-mode disagreements and the first diverging step."""
        tiers = ", ".join(f"{c} {tolerance(self.dtype, c):.0e}" for c in ("forward", "gradient", "trajectory"))
        if self.passed:
            return f"port check passed ({self.dtype}: {tiers}; {len(self.layers)} layers, {len(self.steps)} steps)"
        lines = [f"port check failed ({self.dtype} tier: {tiers})"]
        layer = self.first_layer
        if layer is not None:
            where = f"torch {layer.torch!r}" if layer.torch else "torch (no module output of that shape)"
            lines.append(f"  first diverging layer: numpy {layer.numpy!r} vs {where}: {layer.comparison.detail()}")
            if layer.hint:
                lines.append(f"    hint: {layer.hint}")
        for cset in (self.forward, self.input_grad):
            if cset is not None and not cset.passed:
                lines.append(f"  {cset.failures[0].describe()}")
        param = self.first_param
        if param is not None and self.grads is not None:
            names = [c.key for c in self.grads.failures]
            lines.append(
                f"  first diverging parameter gradient: {param.key!r} ({len(names)} of "
                f"{len(self.grads.comparisons)} differ: {', '.join(names)}): {param.describe()}"
            )
        for text in self.training:
            lines.append(f"  training mode: {text}")
        step = self.first_step
        if step is not None:
            lines.append(
                f"  first diverging step: step {step[0]} of {len(self.steps)}, parameter {step[1].key!r}: "
                f"{step[1].describe()}"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------------------


def _dtype_name(x: np.ndarray) -> str:
    if x.dtype not in (np.float64, np.float32):
        raise TypeError(f"inputs must be float64 or float32 arrays; received dtype {x.dtype}")
    return str(x.dtype)


def _torch_hint(module: Any, torch_out: Any, numpy_out: np.ndarray) -> str:
    import torch

    hints = []
    if isinstance(module, torch.nn.RNNBase) and not module.batch_first:
        hints.append(
            f"{type(module).__name__}(batch_first=False) reads a [N, T, V] batch as [T, N, V]: pass "
            "batch_first=True (h0 stays [layers, N, H] even then)"
        )
    if torch_out is not None and str(torch_out.dtype).replace("torch.", "") != str(numpy_out.dtype):
        hints.append(f"the torch output is {torch_out.dtype}, the NumPy one {numpy_out.dtype}: a cast in the model?")
    return "; ".join(hints)


def _match_layers(
    numpy_outs: list[tuple[str, np.ndarray]], torch_outs: list[tuple[str, Any, Any]], dtype: str
) -> tuple[list[LayerMatch], dict[int, list[int]]]:
    """Match NumPy layer outputs with torch module outputs, in forward order.

    For each NumPy layer, the torch outputs from the start of the previous match onwards are searched (an
    identity layer, such as dropout at inference, repeats the previous output); the first that agrees within
    the forward tolerance starts the match, which extends over the consecutive torch outputs that agree too.
    Returns the matches (up to and including the first diverging layer) and, per matched NumPy layer, the
    torch outputs it matched."""
    tol = tolerance(dtype, "forward")
    matches: list[LayerMatch] = []
    runs: dict[int, list[int]] = {}
    start = 0

    def agrees(out: np.ndarray, j: int) -> bool:
        t = torch_outs[j][2]
        return tuple(t.shape) == out.shape and relative_error(out, t.numpy()) <= tol

    for i, (name, out) in enumerate(numpy_outs):
        first = next((j for j in range(start, len(torch_outs)) if agrees(out, j)), None)
        if first is not None:
            run = [first]
            while run[-1] + 1 < len(torch_outs) and agrees(out, run[-1] + 1):
                run.append(run[-1] + 1)
            tname, _, tout = torch_outs[run[-1]]
            cmp = compare(out, tout, dtype=dtype, category="forward", name=name, labels=LABELS)
            matches.append(LayerMatch(name, tname, cmp))
            runs[i] = run
            start = first
            continue
        same_shape = [j for j in range(start, len(torch_outs)) if tuple(torch_outs[j][2].shape) == out.shape]
        last = runs[max(runs)][-1] if runs else -1
        if same_shape:  # the nearest in value is the likeliest counterpart
            j = min(same_shape, key=lambda k: relative_error(out, torch_outs[k][2].numpy()))
            tname, tmod, tout = torch_outs[j]
            cmp = compare(out, tout, dtype=dtype, category="forward", name=name, labels=LABELS)
            hints = [_torch_hint(tmod, tout, out)] if _torch_hint(tmod, tout, out) else []
            between = [f"{torch_outs[k][0]!r} {type(torch_outs[k][1]).__name__}" for k in range(last + 1, j + 1)]
            if between:
                since = f"torch {torch_outs[last][0]!r}" if last >= 0 else "the input"
                hints.append(f"torch modules run since the last agreement ({since}): {', '.join(between)}")
            matches.append(LayerMatch(name, tname, cmp, "; ".join(hints)))
        else:
            nan = float("nan")
            note = f"no torch module output of shape {out.shape} after the previous match"
            cmp = Comparison(name, "forward", float("inf"), tol, (), nan, nan, nan, note, LABELS)
            matches.append(LayerMatch(name, None, cmp))
        break  # later layers see a different input: the first divergence is what counts
    return matches, runs


def _zero_fraction_check(
    numpy_outs: list[tuple[str, np.ndarray]], torch_outs: list[tuple[str, Any, Any]], runs: dict[int, list[int]]
) -> list[str]:
    """Training mode: each matched layer's fraction of exact zeros (what dropout sets) against those of the
    torch outputs it matched at inference, within a binomial band (6 standard deviations + 1 point)."""
    for i, run in sorted(runs.items()):
        if i >= len(numpy_outs) or run[-1] >= len(torch_outs):
            break
        name, a = numpy_outs[i]
        fa = float(np.mean(a == 0)) if a.size else 0.0
        fractions = {j: float(np.mean(torch_outs[j][2].numpy() == 0)) for j in run}
        n = max(a.size, 1)

        def band(fb: float, n: int = n, fa: float = fa) -> float:
            pooled = (fa + fb) / 2
            return float(6.0 * np.sqrt(max(pooled * (1 - pooled), 1.0 / n) * 2.0 / n) + 0.01)

        if any(abs(fa - fb) <= band(fb) for fb in fractions.values()):
            continue
        j = max(fractions, key=lambda k: abs(fa - fractions[k]))
        fb = fractions[j]
        return [
            f"layer {name!r} (torch {torch_outs[j][0]!r}) zeroes {100 * fa:.1f}% of its outputs in numpy and "
            f"{100 * fb:.1f}% in torch (n = {n}, band ±{100 * band(fb):.1f} points): different dropout "
            "probabilities? torch's p is the probability to DROP a unit; the book's keep probability is 1 - p"
        ]
    return []


@dataclass
class _Run:
    """One check's shared state: both models, the input, the tier, the device and the upstream-gradient stream."""

    model: NumpyModel
    torch_model: Any
    mapping: ParamMap
    x: np.ndarray
    dtype: str
    rng: np.random.Generator
    device: Any

    def compare(self, got: Any, want: Any, category: str, name: str) -> Comparison:
        return compare(got, want, dtype=self.dtype, category=category, name=name, labels=LABELS)

    def numpy_forward(self, training: bool, record: bool = True) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
        outs: list[tuple[str, np.ndarray]] = []
        with _record_numpy(self.model.layers if record else [], outs):
            y = _first_array(self.model.forward(self.x.copy(), training))
        return np.asarray(y), outs

    def torch_forward(self, training: bool) -> tuple[Any, Any, list[tuple[str, Any, Any]]]:
        import torch

        self.torch_model.train(training)
        xt = torch.from_numpy(self.x.copy()).to(self.device).requires_grad_(True)
        outs: list[tuple[str, Any, Any]] = []
        with _record_torch(self.torch_model, outs):
            yt = _first_array(self.torch_model(xt))
        return xt, yt, outs

    def backward_both(self, y_np: np.ndarray, yt: Any) -> Any:
        """One random upstream gradient through both models; returns the NumPy input gradient."""
        import torch

        dy = self.rng.standard_normal(y_np.shape).astype(self.x.dtype)
        dx = self.model.backward(dy.copy())
        if dx is None and self.model.input_grad is not None:
            dx = self.model.input_grad()
        self.torch_model.zero_grad(set_to_none=True)
        (yt * torch.from_numpy(dy.copy()).to(yt)).sum().backward()  # dL/dy = dy
        return dx

    def gradients(self, dx_np: Any, xt: Any, report: PortReport) -> None:
        report.input_grad = ComparisonSet("input gradient", self.dtype)
        if dx_np is not None and xt.grad is not None:
            report.input_grad.comparisons.append(self.compare(dx_np, xt.grad, "gradient", "input gradient"))
        np_grads, t_grads = self.model.grads(), self.mapping.grads_from_module(self.torch_model)
        report.grads = ComparisonSet("parameter gradients", self.dtype)
        for name in self.model.params():
            if name in t_grads:
                report.grads.comparisons.append(self.compare(np_grads[name], t_grads[name], "gradient", name))

    def steps(self, count: int, optimizers: tuple[Any, Any], report: PortReport) -> None:
        numpy_step, torch_opt = optimizers
        step = numpy_step if callable(numpy_step) else numpy_step.step
        for k in range(count):
            if k:  # step 1 uses the gradients of the gradient check
                y_np, _ = self.numpy_forward(False, record=False)
                _, yt, _ = self.torch_forward(False)
                self.backward_both(y_np, yt)
            step()
            torch_opt.step()
            after, now = self.mapping.from_module(self.torch_model), self.model.params()
            cset = ComparisonSet(f"after step {k + 1}", self.dtype)
            cset.comparisons += [self.compare(now[n], after[n], "trajectory", n) for n in now if n in after]
            report.steps.append(cset)


def _copy_weights(model: NumpyModel, torch_model: Any, mapping: ParamMap, copy: str) -> None:
    """``copy="to_torch"``: your weights into the module; ``"to_numpy"``: the module's into yours (in place)."""
    if copy not in ("to_torch", "to_numpy", "none"):
        raise ValueError(f"copy must be 'to_torch', 'to_numpy' or 'none'; received {copy!r}")
    params = model.params()
    if copy == "to_torch":
        mapping.load_into(torch_model, params)
    elif copy == "to_numpy":
        for name, value in mapping.from_module(torch_model).items():
            if name not in params:
                raise ValueError(f"the map fills {name!r}, which the NumPy model does not have")
            if params[name].shape != value.shape or params[name].dtype != value.dtype:
                raise TypeError(
                    f"{name!r}: the NumPy model holds {params[name].dtype}{params[name].shape}, torch gives "
                    f"{value.dtype}{value.shape}"
                )
            params[name][...] = value


def check_model(
    numpy_model: Any,
    torch_model: torch.nn.Module,
    inputs: np.ndarray,
    *,
    mapping: ParamMap,
    copy: str = "to_torch",
    steps: int = 0,
    optimizers: tuple[Any, Any] | None = None,
    seed: int = 0,
    training_check: bool | None = None,
) -> PortReport:
    """Compare ``numpy_model`` with ``torch_model`` on ``inputs`` (see the module docstring).

    ``mapping``: your parameter names <-> the module's keys. ``copy``: ``"to_torch"`` (your weights into the
    module, the default), ``"to_numpy"`` (the module's into yours, in place) or ``"none"`` (already equal).
    ``steps`` optimizer steps with ``optimizers=(numpy_step, torch_optimizer)``: ``numpy_step`` is a callable or
    has ``.step()``, applied after each backward. ``training_check``: compare dropout in training mode (default:
    when the torch model has a dropout module). The tier is the dtype of ``inputs``.
    """
    import torch

    if not isinstance(inputs, np.ndarray):
        raise TypeError(f"inputs must be a NumPy array; received {type(inputs).__name__}")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0; received {steps!r}")
    if steps and optimizers is None:
        raise ValueError(f"steps={steps} needs optimizers=(numpy_step, torch_optimizer)")
    model = adapt(numpy_model)
    _copy_weights(model, torch_model, mapping, copy)
    first = next(iter(torch_model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")  # inputs go where the module is
    run = _Run(model, torch_model, mapping, inputs, _dtype_name(inputs), np.random.default_rng(seed), device)
    report = PortReport(run.dtype)
    was_training = torch_model.training
    try:
        # 1. forward, layer by layer (dropout off); 2. gradients for a random upstream gradient
        y_np, np_outs = run.numpy_forward(False)
        xt, yt, t_outs = run.torch_forward(False)
        report.layers, runs = _match_layers(np_outs, t_outs, run.dtype)
        report.forward = ComparisonSet("output", run.dtype, [run.compare(y_np, yt, "forward", "output")])
        run.gradients(run.backward_both(y_np, yt), xt, report)
        # 3. training mode: dropout, where the forward agrees (the layers are paired by that agreement)
        has_dropout = any(isinstance(m, torch.nn.modules.dropout._DropoutNd) for m in torch_model.modules())
        wanted = training_check if training_check is not None else has_dropout
        if wanted and report.first_layer is None and report.forward.passed:
            _, np_train = run.numpy_forward(True)
            with torch.no_grad():
                _, _, t_train = run.torch_forward(True)
            report.training = _zero_fraction_check(np_train, t_train, runs)
        # 4. optimizer steps
        if steps and optimizers is not None:
            run.steps(steps, optimizers, report)
    finally:
        torch_model.train(was_training)
    return report


def assert_parity(numpy_model: Any, torch_model: torch.nn.Module, inputs: np.ndarray, **kwargs: Any) -> PortReport:
    """``check_model`` and raise ``ParityError`` (an ``AssertionError``) with the localized message if the port
    differs anywhere; returns the report when it passes."""
    report = check_model(numpy_model, torch_model, inputs, **kwargs)
    if not report.passed:
        raise ParityError(report.message())
    return report
