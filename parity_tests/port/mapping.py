"""``ParamMap``: your NumPy model's parameter names and layouts <-> a torch module's ``state_dict`` keys.

Build one with the chained methods (each returns the map), then move weights either way::

    pmap = ParamMap().linear("W1", "B1", "0").linear("W2", "B2", "2")     # nn.Sequential(Linear, act, Linear)
    pmap.load_into(torch_model, numpy_params)                              # NumPy -> torch, checked
    numpy_params = pmap.from_module(torch_model)                           # torch -> NumPy
    numpy_grads = pmap.grads_from_module(torch_model)                      # torch's .grad in your layout

Every conversion is checked and never silent: a NumPy name the map does not know, a name it expects but
did not receive, a torch key it does not fill, a shape that does not fit and a dtype that differs from the
module's (``load_state_dict`` would cast float64 down to float32 without a word) are errors naming the key,
what was expected and what was received. Each rule is a linear re-layout (transpose, reshape, block
stacking, a sum of two biases), so gradients map like their parameters, except a summed bias, whose gradient
is that of either torch bias (torch gives both the same one).

Rules (NumPy side first; ``(in, out)`` is the book's weight layout, ``x @ W``):

=================  ====================================================================================
``rename``         the same array under another name
``transpose``      a matrix stored ``(in, out)`` <-> torch's ``(out, in)``
``bias_row``       a bias stored ``(1, n)`` <-> torch's ``(n,)``
``linear``         ``transpose`` + ``bias_row`` for ``nn.Linear`` at ``prefix``
``conv``           a kernel stored ``(C_in, C_out, k, k)`` (the book's) or ``(C_out, C_in, k, k)``, a bias
                   ``(1, C, 1, 1)`` or ``(C,)`` <-> ``nn.Conv2d``'s ``weight``/``bias``
``recurrent``      one tensor per gate (named in any order) <-> ``nn.RNN``/``nn.LSTM``/``nn.GRU``'s stacked
                   ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``: the gates reordered
                   into torch's order (LSTM i, f, g, o; GRU r, z, n), weights acting on a concatenation
                   ``[x, h]`` (or ``[h, x]``) split, and one bias per gate put into ``bias_ih`` with
                   ``bias_hh = 0`` (read back as their sum), or two biases per gate mapped separately
=================  ====================================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

Arrays = dict[str, np.ndarray]
Convert = Callable[[Mapping[str, np.ndarray]], Arrays]


class MappingError(ValueError):
    """A parameter map does not fit the arrays or the module it was given."""


@dataclass(frozen=True)
class LayoutRow:
    """One line of a map's key table: which NumPy name goes to which torch key, and how."""

    numpy: str
    torch: str
    numpy_shape: str
    torch_shape: str
    rule: str


@dataclass(frozen=True)
class Rule:
    """NumPy names <-> torch keys through two functions (and two more for gradients where they differ)."""

    numpy: tuple[str, ...]
    torch: tuple[str, ...]
    rows: tuple[LayoutRow, ...]
    to_torch: Convert
    to_numpy: Convert
    grads_to_numpy: Convert | None = None
    grads_to_torch: Convert | None = None


# Torch's gate stacking order and the names a porter may use for each gate.
GATE_ORDER: dict[str, tuple[str, ...]] = {"RNN": ("h",), "LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n")}
GATE_ALIASES: dict[str, dict[str, str]] = {
    "RNN": {"h": "h", "": "h"},
    "LSTM": {"i": "i", "f": "f", "g": "g", "c": "g", "o": "o"},
    "GRU": {"r": "r", "z": "z", "u": "z", "n": "n", "h": "n"},
}


def _array(value: Any, name: str) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array or a torch tensor; received {type(value).__name__}")
    if value.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating-point array; received dtype {value.dtype}")
    return value


def _need_ndim(array: np.ndarray, ndim: int, name: str, layout: str) -> None:
    if array.ndim != ndim:
        raise MappingError(f"{name} must be {ndim}-D {layout}; received shape {array.shape}")


def _gates(kind: str, names: Mapping[str, str] | str | None, what: str) -> dict[str, str] | None:
    """``names`` (gate -> NumPy name, any order, aliases allowed) keyed by torch's gate letters."""
    if names is None:
        return None
    if isinstance(names, str):
        if kind != "RNN":
            raise MappingError(f"{what}: a {kind} needs one name per gate {GATE_ORDER[kind]}; received {names!r}")
        return {"h": names}
    aliases = GATE_ALIASES[kind]
    out: dict[str, str] = {}
    for gate, name in names.items():
        if gate not in aliases:
            raise MappingError(f"{what}: {kind} gates are {sorted(aliases)}; received gate {gate!r}")
        if aliases[gate] in out:
            raise MappingError(f"{what}: gate {aliases[gate]!r} named twice ({out[aliases[gate]]!r}, {name!r})")
        out[aliases[gate]] = name
    return out


def _full_gates(kind: str, names: Mapping[str, str] | str | None, what: str) -> dict[str, str] | None:
    out = _gates(kind, names, what)
    if out is not None and set(out) != set(GATE_ORDER[kind]):
        missing = [g for g in GATE_ORDER[kind] if g not in out]
        raise MappingError(f"{what}: every {kind} gate needs a name; missing {missing}")
    return out


@dataclass(frozen=True)
class _RecurrentLayout:
    """The ``recurrent`` rule: NumPy gate names (keyed by torch's gate letters) and torch's stacked keys."""

    kind: str
    what: str
    joint: dict[str, str] | None  # gate -> a weight acting on [x, h] (or [h, x])
    sep_ih: dict[str, str]  # gate -> the input part, when given separately
    sep_hh: dict[str, str]  # gate -> the recurrent part
    b: dict[str, str] | None  # gate -> the (input-side) bias
    b_hh: dict[str, str]  # gate -> a separate second bias
    input_size: int
    concat: str
    weight_layout: str
    keys: tuple[str, str, str, str]  # weight_ih, weight_hh, bias_ih, bias_hh

    @classmethod
    def build(
        cls,
        prefix: str,
        kind: str,
        weights: Mapping[str, str] | str | None,
        input_size: int | None,
        concat: str,
        weights_ih: Mapping[str, str] | str | None,
        weights_hh: Mapping[str, str] | str | None,
        biases: Mapping[str, str] | str | None,
        biases_hh: Mapping[str, str] | str | None,
        weight_layout: str,
        layer: int,
    ) -> _RecurrentLayout:
        """Check the arguments of ``ParamMap.recurrent`` and resolve the gate names."""
        for value, name, allowed in (
            (kind, "kind", tuple(GATE_ORDER)),
            (concat, "concat", ("xh", "hx")),
            (weight_layout, "weight_layout", ("in_out", "out_in")),
        ):
            if value not in allowed:
                raise MappingError(f"{name} must be one of {allowed}; received {value!r}")
        what = f"recurrent({prefix!r}, {kind!r})"
        joint = _full_gates(kind, weights, what + " weights")
        w_ih = _full_gates(kind, weights_ih, what + " weights_ih")
        w_hh = _full_gates(kind, weights_hh, what + " weights_hh")
        if (joint is None) == (w_ih is None and w_hh is None) or (joint is None and (w_ih is None or w_hh is None)):
            raise MappingError(f"{what}: give either weights= (with input_size=) or both weights_ih= and weights_hh=")
        if joint is not None and (input_size is None or int(input_size) < 1):
            raise MappingError(f"{what}: weights= acting on [x, h] need input_size= (V); received {input_size!r}")
        b = _full_gates(kind, biases, what + " biases")
        b_hh = _gates(kind, biases_hh, what + " biases_hh") or {}
        if b is None and b_hh:
            raise MappingError(f"{what}: biases_hh= needs biases= for the input-side biases")
        key = f"{prefix}." if prefix else ""
        keys = (
            f"{key}weight_ih_l{layer}",
            f"{key}weight_hh_l{layer}",
            f"{key}bias_ih_l{layer}",
            f"{key}bias_hh_l{layer}",
        )
        return cls(
            kind, what, joint, w_ih or {}, w_hh or {}, b, b_hh, int(input_size or 0), concat, weight_layout, keys
        )

    @property
    def order(self) -> tuple[str, ...]:
        return GATE_ORDER[self.kind]

    @property
    def numpy_names(self) -> tuple[str, ...]:
        names = [*(self.joint or {}).values(), *self.sep_ih.values(), *self.sep_hh.values()]
        return (*names, *(self.b or {}).values(), *self.b_hh.values())

    @property
    def torch_keys(self) -> tuple[str, ...]:
        return self.keys if self.b is not None else self.keys[:2]

    def _as_torch(self, m: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(m.T if self.weight_layout == "in_out" else m)  # [in, H] -> [H, in]

    def _split(self, w: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A joint weight -> (input part, recurrent part), both in the NumPy layout."""
        in_out = self.weight_layout == "in_out"
        _need_ndim(w, 2, name, "(V + H, H)" if in_out else "(H, V + H)")
        m = w if in_out else w.T  # [V + H, H]
        V, H = self.input_size, m.shape[1]
        if m.shape[0] != V + H:
            raise MappingError(f"{name} must have {V} + {H} rows ([x, h] with input_size={V}); received {w.shape}")
        x_part, h_part = (m[:V], m[V:]) if self.concat == "xh" else (m[H:], m[:H])
        return (x_part, h_part) if in_out else (x_part.T, h_part.T)

    def _join(self, x_part: np.ndarray, h_part: np.ndarray) -> np.ndarray:
        """The inverse of ``_split``: [V, H], [H, H] -> [V + H, H] (``out_in``: [H, V], [H, H] -> [H, V + H])."""
        parts = (x_part, h_part) if self.concat == "xh" else (h_part, x_part)
        return np.concatenate(parts, axis=0 if self.weight_layout == "in_out" else 1)

    def _weights_to_torch(self, p: Mapping[str, np.ndarray]) -> Arrays:
        ih, hh = [], []
        for g in self.order:
            if self.joint is not None:
                x_part, h_part = self._split(p[self.joint[g]], self.joint[g])
            else:
                x_part, h_part = p[self.sep_ih[g]], p[self.sep_hh[g]]
                _need_ndim(x_part, 2, self.sep_ih[g], "(V, H)")
                _need_ndim(h_part, 2, self.sep_hh[g], "(H, H)")
            ih.append(self._as_torch(x_part))
            hh.append(self._as_torch(h_part))
        if len({a.shape for a in ih}) != 1 or len({a.shape for a in hh}) != 1:
            shapes = sorted({a.shape for a in ih})
            raise MappingError(f"{self.what}: every gate's weight must have the same shape; received {shapes}")
        return {self.keys[0]: np.concatenate(ih, axis=0), self.keys[1]: np.concatenate(hh, axis=0)}  # -> [G·H, in]

    def to_torch(self, p: Mapping[str, np.ndarray], grads: bool = False) -> Arrays:
        out = self._weights_to_torch(p)
        if self.b is None:
            return out
        H = out[self.keys[1]].shape[1]
        bi, bh = [], []
        for g in self.order:
            row = p[self.b[g]]
            if row.size != H or row.ndim > 2:
                raise MappingError(f"{self.b[g]} must be a (1, {H}) bias row; received shape {row.shape}")
            bi.append(row.reshape(-1))  # [1, H] -> [H]
            if g in self.b_hh:
                bh.append(p[self.b_hh[g]].reshape(-1))
            else:  # one bias: the second is zero for parameters, the same gradient for gradients
                bh.append(row.reshape(-1).copy() if grads else np.zeros(H, dtype=row.dtype))
        out[self.keys[2]], out[self.keys[3]] = np.concatenate(bi), np.concatenate(bh)  # G x [H] -> [G·H]
        return out

    def _weights_to_numpy(self, t: Mapping[str, np.ndarray]) -> tuple[Arrays, int]:
        k_ih, k_hh = self.keys[:2]
        ih, hh = t[k_ih], t[k_hh]
        _need_ndim(ih, 2, k_ih, "(G·H, V)")
        _need_ndim(hh, 2, k_hh, "(G·H, H)")
        G = len(self.order)
        if ih.shape[0] % G or hh.shape != (ih.shape[0], ih.shape[0] // G):
            raise MappingError(f"{k_ih} {ih.shape} and {k_hh} {hh.shape} do not fit a {self.kind} ({G} gates)")
        H = ih.shape[0] // G
        out: Arrays = {}
        for j, g in enumerate(self.order):
            x_part = self._as_torch(ih[j * H : (j + 1) * H])  # block g, back to the NumPy layout
            h_part = self._as_torch(hh[j * H : (j + 1) * H])
            if self.joint is not None:
                out[self.joint[g]] = self._join(x_part, h_part)
            else:
                out[self.sep_ih[g]], out[self.sep_hh[g]] = x_part, h_part
        return out, H

    def to_numpy(self, t: Mapping[str, np.ndarray], grads: bool = False) -> Arrays:
        out, H = self._weights_to_numpy(t)
        if self.b is None:
            return out
        bi, bh = t[self.keys[2]].reshape(-1), t[self.keys[3]].reshape(-1)
        for j, g in enumerate(self.order):
            blk = slice(j * H, (j + 1) * H)
            if g in self.b_hh:
                out[self.b[g]] = bi[blk].reshape(1, H).copy()  # [H] -> [1, H]
                out[self.b_hh[g]] = bh[blk].reshape(1, H).copy()
            elif grads:
                out[self.b[g]] = bi[blk].reshape(1, H).copy()  # d(b_ih + b_hh)/d(either) = the same gradient
            elif self.kind == "GRU" and g == "n" and np.any(bh[blk] != 0):
                raise MappingError(
                    f"{self.keys[3]} block n (b_hn) is non-zero, but the map names no NumPy array for it: it sits "
                    "inside r ⊙ (W_hn h + b_hn) and cannot be folded into b_in; pass biases_hh={'n': ...}"
                )
            else:
                out[self.b[g]] = (bi[blk] + bh[blk]).reshape(1, H)  # the sum: [H] -> [1, H]
        return out

    def rows(self) -> tuple[LayoutRow, ...]:
        """The key table of the rule."""
        order, G = self.order, len(self.order)
        gh = "H" if G == 1 else f"{G}H"
        k_ih, k_hh, kb_ih, kb_hh = self.keys
        wshape = "(V+H, H)" if self.weight_layout == "in_out" else "(H, V+H)"
        rows: list[LayoutRow] = []
        for j, g in enumerate(order):
            block = f"block {g} (rows {j}H..{j + 1}H)" if G > 1 else "the whole tensor"
            if self.joint is not None:
                x_rows, h_rows = ("rows :V", "rows V:") if self.concat == "xh" else ("rows H:", "rows :H")
                rows.append(LayoutRow(self.joint[g], k_ih, wshape, f"({gh}, V)", f"{x_rows} transposed into {block}"))
                rows.append(LayoutRow(self.joint[g], k_hh, wshape, f"({gh}, H)", f"{h_rows} transposed into {block}"))
            else:
                rows.append(LayoutRow(self.sep_ih[g], k_ih, "(V, H)", f"({gh}, V)", f"transposed into {block}"))
                rows.append(LayoutRow(self.sep_hh[g], k_hh, "(H, H)", f"({gh}, H)", f"transposed into {block}"))
        biases = self.b or {}
        for g in order if biases else ():
            if g in self.b_hh:
                rows.append(LayoutRow(biases[g], kb_ih, "(1, H)", f"({gh},)", f"block {g} of bias_ih (input side)"))
                rows.append(
                    LayoutRow(self.b_hh[g], kb_hh, "(1, H)", f"({gh},)", f"block {g} of bias_hh (its own array)")
                )
            else:
                rule = f"block {g}: b_ih = B, b_hh = 0; back: b_ih + b_hh"
                rows.append(LayoutRow(biases[g], f"{kb_ih} + {kb_hh}", "(1, H)", f"({gh},) each", rule))
        return tuple(rows)


class ParamMap:
    """A checked map between a NumPy model's named parameters and a torch module's ``state_dict`` keys.

    See the module docstring for the rules. ``numpy_names`` and ``torch_names`` list both sides in the
    order the rules were added; ``rows()`` is the key table (``table()`` renders it as Markdown).
    """

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._rules: list[Rule] = []
        for rule in rules:
            self._add(rule)

    # ---- building ----------------------------------------------------------------------------------

    def _add(self, rule: Rule) -> ParamMap:
        for name in rule.numpy:
            if name in self.numpy_names:
                raise MappingError(f"NumPy name {name!r} is already mapped")
        for key in rule.torch:
            if key in self.torch_names:
                raise MappingError(f"torch key {key!r} is already filled by another rule")
        self._rules.append(rule)
        return self

    def rename(self, numpy: str, torch: str) -> ParamMap:
        """The same array, same layout, another name."""
        row = LayoutRow(numpy, torch, "any", "same", "copy")
        return self._add(
            Rule((numpy,), (torch,), (row,), lambda p: {torch: p[numpy].copy()}, lambda t: {numpy: t[torch].copy()})
        )

    def transpose(self, numpy: str, torch: str) -> ParamMap:
        """A matrix stored ``(in, out)`` (``x @ W``) <-> torch's ``(out, in)`` (``x @ W.T``)."""

        def there(p: Mapping[str, np.ndarray]) -> Arrays:
            _need_ndim(p[numpy], 2, numpy, "(in, out)")
            return {torch: np.ascontiguousarray(p[numpy].T)}  # [in, out] -> [out, in]

        def back(t: Mapping[str, np.ndarray]) -> Arrays:
            _need_ndim(t[torch], 2, torch, "(out, in)")
            return {numpy: np.ascontiguousarray(t[torch].T)}  # [out, in] -> [in, out]

        row = LayoutRow(numpy, torch, "(in, out)", "(out, in)", "transpose")
        return self._add(Rule((numpy,), (torch,), (row,), there, back))

    def bias_row(self, numpy: str, torch: str) -> ParamMap:
        """A bias stored as a ``(1, n)`` row <-> torch's ``(n,)``."""

        def there(p: Mapping[str, np.ndarray]) -> Arrays:
            if p[numpy].ndim != 2 or p[numpy].shape[0] != 1:
                raise MappingError(f"{numpy} must be a (1, n) row; received shape {p[numpy].shape}")
            return {torch: p[numpy].reshape(-1).copy()}  # [1, n] -> [n]

        def back(t: Mapping[str, np.ndarray]) -> Arrays:
            _need_ndim(t[torch], 1, torch, "(n,)")
            return {numpy: t[torch].reshape(1, -1).copy()}  # [n] -> [1, n]

        row = LayoutRow(numpy, torch, "(1, n)", "(n,)", "drop / add the leading axis")
        return self._add(Rule((numpy,), (torch,), (row,), there, back))

    def linear(self, weight: str, bias: str | None, prefix: str, *, weight_layout: str = "in_out") -> ParamMap:
        """``nn.Linear`` at ``prefix`` (``"0"``, ``"fc"``, ...): ``weight`` stored ``(in, out)`` (``"in_out"``,
        transposed) or already ``(out, in)`` (``"out_in"``); ``bias`` a ``(1, out)`` row, or ``None``."""
        if weight_layout not in ("in_out", "out_in"):
            raise MappingError(f"weight_layout must be 'in_out' or 'out_in'; received {weight_layout!r}")
        key = f"{prefix}." if prefix else ""
        if weight_layout == "in_out":
            self.transpose(weight, key + "weight")
        else:
            self.rename(weight, key + "weight")
        return self if bias is None else self.bias_row(bias, key + "bias")

    def conv(
        self, weight: str, bias: str | None, prefix: str, *, weight_layout: str = "iohw", bias_layout: str = "1c11"
    ) -> ParamMap:
        """``nn.Conv2d`` at ``prefix``: ``weight`` stored ``(C_in, C_out, k, k)`` (``"iohw"``, the book's) or
        ``(C_out, C_in, k, k)`` (``"oihw"``, torch's); ``bias`` stored ``(1, C_out, 1, 1)`` (``bias_layout="1c11"``,
        broadcast over ``[N, C, H, W]``) or ``(C_out,)`` (``"c"``)."""
        if weight_layout not in ("iohw", "oihw"):
            raise MappingError(f"weight_layout must be 'iohw' or 'oihw'; received {weight_layout!r}")
        if bias_layout not in ("1c11", "c"):
            raise MappingError(f"bias_layout must be '1c11' or 'c'; received {bias_layout!r}")
        key = f"{prefix}." if prefix else ""
        wkey = key + "weight"

        def there(p: Mapping[str, np.ndarray]) -> Arrays:
            _need_ndim(p[weight], 4, weight, f"({weight_layout})")
            w = p[weight] if weight_layout == "oihw" else p[weight].transpose(1, 0, 2, 3)  # -> [C_out, C_in, k, k]
            return {wkey: np.ascontiguousarray(w)}

        def back(t: Mapping[str, np.ndarray]) -> Arrays:
            _need_ndim(t[wkey], 4, wkey, "(C_out, C_in, k, k)")
            w = t[wkey] if weight_layout == "oihw" else t[wkey].transpose(1, 0, 2, 3)  # -> [C_in, C_out, k, k]
            return {weight: np.ascontiguousarray(w)}

        shape = "(C_in, C_out, k, k)" if weight_layout == "iohw" else "(C_out, C_in, k, k)"
        rule = "swap axes 0 and 1" if weight_layout == "iohw" else "copy"
        self._add(Rule((weight,), (wkey,), (LayoutRow(weight, wkey, shape, "(C_out, C_in, k, k)", rule),), there, back))
        if bias is None:
            return self
        bkey = key + "bias"
        four_d = bias_layout == "1c11"

        def bias_there(p: Mapping[str, np.ndarray]) -> Arrays:
            b = p[bias]
            if (four_d and (b.ndim != 4 or (b.shape[0], b.shape[2], b.shape[3]) != (1, 1, 1))) or (
                not four_d and b.ndim != 1
            ):
                expected = "(1, C, 1, 1)" if four_d else "(C,)"
                raise MappingError(
                    f"{bias} must have shape {expected} (bias_layout={bias_layout!r}); received {b.shape}"
                )
            return {bkey: b.reshape(-1).copy()}  # [1, C, 1, 1] or [C] -> [C]

        def bias_back(t: Mapping[str, np.ndarray]) -> Arrays:
            _need_ndim(t[bkey], 1, bkey, "(C,)")
            return {bias: t[bkey].reshape(1, -1, 1, 1).copy() if four_d else t[bkey].copy()}  # [C] -> [1, C, 1, 1]

        row = LayoutRow(
            bias, bkey, "(1, C_out, 1, 1)" if four_d else "(C_out,)", "(C_out,)", "reshape" if four_d else "copy"
        )
        return self._add(Rule((bias,), (bkey,), (row,), bias_there, bias_back))

    def recurrent(
        self,
        prefix: str,
        kind: str,
        *,
        weights: Mapping[str, str] | str | None = None,
        input_size: int | None = None,
        concat: str = "xh",
        weights_ih: Mapping[str, str] | str | None = None,
        weights_hh: Mapping[str, str] | str | None = None,
        biases: Mapping[str, str] | str | None = None,
        biases_hh: Mapping[str, str] | str | None = None,
        weight_layout: str = "in_out",
        layer: int = 0,
    ) -> ParamMap:
        """One layer of ``nn.RNN``/``nn.LSTM``/``nn.GRU`` at ``prefix`` (``"lstm"``; ``layer`` picks ``_l{k}``).

        Weights, one array per gate, keyed by gate (LSTM ``i f g o``, ``c`` for ``g``; GRU ``r z n``, ``u`` for
        ``z``, ``h`` for ``n``; an RNN takes one name), EITHER ``weights``: each acting on the concatenation
        ``[x, h]`` (``concat="xh"``, the book's) or ``[h, x]`` (``"hx"``), shape ``(V + H, H)``, split at
        ``input_size`` = V; OR ``weights_ih`` ``(V, H)`` and ``weights_hh`` ``(H, H)``. ``weight_layout``:
        ``"in_out"`` (``x @ W``, transposed for torch) or ``"out_in"`` (torch's).

        Biases: ``biases``, one ``(1, H)`` row per gate, go to ``bias_ih`` with ``bias_hh = 0``; back, they are
        ``bias_ih + bias_hh`` (the sum is all that matters, except for the GRU's candidate, where torch's
        ``b_hn`` sits inside ``r ⊙ (W_hn h + b_hn)``: a non-zero one is an error unless ``biases_hh`` names it).
        ``biases_hh`` names separate second biases (torch's two-bias form) for some or all gates.
        """
        layout = _RecurrentLayout.build(
            prefix, kind, weights, input_size, concat, weights_ih, weights_hh, biases, biases_hh, weight_layout, layer
        )
        return self._add(
            Rule(
                layout.numpy_names,
                layout.torch_keys,
                layout.rows(),
                layout.to_torch,
                layout.to_numpy,
                grads_to_numpy=lambda t: layout.to_numpy(t, grads=True),
                grads_to_torch=lambda p: layout.to_torch(p, grads=True),
            )
        )

    @classmethod
    def from_converter(cls, converter: Any) -> ParamMap:
        """A map made of one of the project's converters (``parity_tests.converters``), book names on the NumPy
        side."""
        rows = tuple(LayoutRow(m.book, m.torch, m.book_shape, m.torch_shape, m.rule) for m in converter.maps)
        return cls(
            [
                Rule(
                    tuple(converter.book_names),
                    tuple(converter.torch_names),
                    rows,
                    converter.to_torch,
                    converter.to_book,
                    converter.grads_to_book,
                    converter.grads_to_torch,
                )
            ]
        )

    def __add__(self, other: ParamMap) -> ParamMap:
        """Both maps' rules (for a model built from parts); a name on both sides is an error."""
        return ParamMap([*self._rules, *other._rules])

    # ---- names -------------------------------------------------------------------------------------

    @property
    def numpy_names(self) -> tuple[str, ...]:
        return tuple(n for r in self._rules for n in r.numpy)

    @property
    def torch_names(self) -> tuple[str, ...]:
        return tuple(k for r in self._rules for k in r.torch)

    def rows(self) -> list[LayoutRow]:
        """The key table, one row per (NumPy name, torch key) pair."""
        return [row for r in self._rules for row in r.rows]

    def table(self) -> str:
        """The key table as Markdown."""
        lines = ["| NumPy | shape | torch key | shape | rule |", "|---|---|---|---|---|"]
        for row in self.rows():
            lines.append(f"| `{row.numpy}` | {row.numpy_shape} | `{row.torch}` | {row.torch_shape} | {row.rule} |")
        return "\n".join(lines)

    # ---- converting arrays -------------------------------------------------------------------------

    @staticmethod
    def _check_keys(given: Mapping[str, Any], expected: Sequence[str], side: str, ignore_extra: bool = False) -> None:
        unknown = sorted(set(given) - set(expected))
        missing = [k for k in expected if k not in given]
        problems = []
        if missing:
            problems.append(f"missing {missing}")
        if unknown and not ignore_extra:
            problems.append(f"not in the map {unknown}")
        if problems:
            raise MappingError(
                f"{side} arrays do not match the map: " + "; ".join(problems) + f" (the map's {side} "
                f"names: {list(expected)})"
            )

    def _run(self, given: Mapping[str, Any], side: str, attr: str, ignore_extra: bool = False) -> Arrays:
        expected = self.numpy_names if side == "NumPy" else self.torch_names
        self._check_keys(given, expected, side, ignore_extra)
        arrays = {k: _array(given[k], f"{side} {k!r}") for k in expected}
        dtypes = {a.dtype for a in arrays.values()}
        if len(dtypes) > 1:
            raise TypeError(f"{side} arrays mix dtypes {sorted(map(str, dtypes))}; convert them to one dtype first")
        out: Arrays = {}
        for rule in self._rules:
            names = rule.numpy if side == "NumPy" else rule.torch
            fn = getattr(rule, attr) or getattr(rule, attr.replace("grads_", ""))
            out.update(fn({n: arrays[n] for n in names}))
        return out

    def to_torch(self, params: Mapping[str, Any]) -> Arrays:
        """Your NumPy parameters (by your names) -> arrays keyed by the torch ``state_dict`` keys."""
        return self._run(params, "NumPy", "to_torch")

    def to_numpy(self, state: Mapping[str, Any], *, ignore_extra: bool = False) -> Arrays:
        """A torch ``state_dict`` (tensors or arrays) -> your NumPy parameters; keys the map does not know are an
        error unless ``ignore_extra``."""
        return self._run(state, "torch", "to_numpy", ignore_extra)

    def grads_to_numpy(self, grads: Mapping[str, Any]) -> Arrays:
        """Torch parameter gradients (by ``state_dict`` key) -> gradients in your layout."""
        return self._run(grads, "torch", "grads_to_numpy")

    def grads_to_torch(self, grads: Mapping[str, Any]) -> Arrays:
        """Your gradients -> torch's layout (a summed bias's gradient goes to both torch biases)."""
        return self._run(grads, "NumPy", "grads_to_torch")

    # ---- modules -----------------------------------------------------------------------------------

    def load_into(self, module: torch.nn.Module, params: Mapping[str, Any]) -> None:
        """Copy your NumPy parameters into ``module``, checked: every parameter of the module filled, no key
        the module lacks, shapes equal, and the dtype equal to the module's (no silent cast). Buffers the map
        does not name are left alone."""
        load_arrays(module, self.to_torch(params), what="the map's torch keys")

    def from_module(self, module: torch.nn.Module) -> Arrays:
        """The module's parameters in your names and layouts (copies)."""
        state = module.state_dict()
        params = {name for name, _ in module.named_parameters()}
        unmapped = sorted(params - set(self.torch_names))
        if unmapped:
            raise MappingError(f"the module's parameters {unmapped} are not in the map")
        return self.to_numpy({k: v for k, v in state.items() if k in self.torch_names})

    def grads_from_module(self, module: torch.nn.Module) -> Arrays:
        """The module's parameter gradients (``.grad`` after a backward) in your names and layouts; a frozen
        parameter (``requires_grad=False``) counts as a zero gradient, a trainable one without ``.grad`` is an
        error."""
        grads: dict[str, Any] = {}
        named = dict(module.named_parameters())
        for key in self.torch_names:
            if key not in named:
                raise MappingError(f"torch key {key!r} is not a parameter of the module (a buffer has no gradient)")
            grad: Any = named[key].grad
            if grad is None and not named[key].requires_grad:  # frozen (e.g. a recurrent bias_hh kept at 0)
                grad = np.zeros(tuple(named[key].shape), dtype=str(named[key].dtype).replace("torch.", ""))
            if grad is None:
                raise MappingError(
                    f"parameter {key!r} has no gradient: the forward did not use it, or backward() was not called"
                )
            grads[key] = grad
        return self.grads_to_numpy(grads)


def load_arrays(module: torch.nn.Module, arrays: Mapping[str, Any], *, what: str = "the arrays") -> None:
    """Copy ``arrays`` (``state_dict`` key -> NumPy array or tensor) into ``module``'s parameters and buffers.

    Checked, never silent: every parameter of the module must be given (buffers may be left out), no key the
    module lacks, each shape equal, each dtype equal to the tensor it replaces (``load_state_dict`` would
    cast float64 to float32 without a word), and no lazily created parameter still uninitialised (run one
    forward first). Copies: the module never shares memory with the arrays."""
    import torch

    state = module.state_dict(keep_vars=True)
    params = {name for name, _ in module.named_parameters()}
    missing = sorted(params - set(arrays))
    unknown = sorted(set(arrays) - set(state))
    if missing or unknown:
        problems = ([f"parameters not given {missing}"] if missing else []) + (
            [f"keys the module does not have {unknown}"] if unknown else []
        )
        raise MappingError(f"{what} do not fit {type(module).__name__}: " + "; ".join(problems))
    for key, value in arrays.items():
        target = state[key]
        if isinstance(target, torch.nn.parameter.UninitializedParameter):
            raise MappingError(
                f"{key!r} is a lazily created parameter that does not exist yet: run one forward pass first"
            )
        source = value.detach() if isinstance(value, torch.Tensor) else torch.from_numpy(np.array(value, copy=True))
        if tuple(source.shape) != tuple(target.shape):
            raise MappingError(
                f"{key!r}: the module expects shape {tuple(target.shape)}; received {tuple(source.shape)}"
            )
        if source.dtype != target.dtype:
            raise TypeError(
                f"{key!r}: the module holds {target.dtype} and the array is {source.dtype}; loading would cast "
                f"silently. Convert the module (module.to({source.dtype})) or the arrays first"
            )
    with torch.no_grad():
        for key, value in arrays.items():
            source = value.detach() if isinstance(value, torch.Tensor) else torch.from_numpy(np.array(value, copy=True))
            state[key].copy_(source.to(state[key].device))
