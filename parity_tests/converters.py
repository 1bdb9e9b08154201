"""Converters between the book's parameter layouts and torch ``state_dict`` layouts, both ways.

A converter works on NumPy arrays on both sides (a torch state dict is turned into arrays first), so it
is framework-neutral and can be tested without torch. ``rows`` describe the mapping in words; the
porting guide's layout tables are generated from them (``parity_tests.guide``), so the guide cannot
drift from the code.

Gradients map exactly like the parameters they belong to for every converter here (each map is a linear
re-layout: transpose, reshape). Converters for split or shared tensors (later chapters) override
``grads_to_book``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class TensorMap:
    """One book tensor <-> one torch tensor."""

    book: str
    torch: str
    book_shape: str
    torch_shape: str
    rule: str
    to_torch: Callable[[np.ndarray], np.ndarray]
    to_book: Callable[[np.ndarray], np.ndarray]


# The re-layouts of the maps below (each a copy; the transpose and the axis swap are their own inverse).
def _transposed(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.T)  # [in, out] <-> [out, in]


def _flattened(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1).copy()  # [1, out] -> [out]; [1, C, 1, 1] -> [C]


def _as_row(a: np.ndarray) -> np.ndarray:
    return a.reshape(1, -1).copy()  # [out] -> [1, out]


def _as_channel_bias(a: np.ndarray) -> np.ndarray:
    return a.reshape(1, -1, 1, 1).copy()  # [C] -> [1, C, 1, 1]


def _swap_axes_01(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3))  # [C_in, C_out, k, k] <-> [C_out, C_in, k, k]


def transpose_2d(book: str, torch: str, book_shape: str = "(in, out)", torch_shape: str = "(out, in)") -> TensorMap:
    """A weight matrix stored ``[in, out]`` by the book and ``[out, in]`` by torch."""
    return TensorMap(book, torch, book_shape, torch_shape, "transpose", _transposed, _transposed)


def bias_row(book: str, torch: str, book_shape: str = "(1, out)", torch_shape: str = "(out,)") -> TensorMap:
    """A bias stored as a ``[1, out]`` row by the book and as ``[out]`` by torch."""
    return TensorMap(book, torch, book_shape, torch_shape, "drop / add the leading axis", _flattened, _as_row)


def swap_conv_axes(book: str, torch: str) -> TensorMap:
    """A conv kernel stored ``[C_in, C_out, k, k]`` by the book (the ``ConvTranspose2d`` layout) and
    ``[C_out, C_in, k, k]`` by ``nn.Conv2d``."""
    return TensorMap(
        book, torch, "(C_in, C_out, k, k)", "(C_out, C_in, k, k)", "swap axes 0 and 1", _swap_axes_01, _swap_axes_01
    )


def channel_bias(book: str, torch: str) -> TensorMap:
    """A per-channel bias stored ``[1, C, 1, 1]`` (broadcast over ``[N, C, H, W]``) and ``[C]`` by torch."""
    return TensorMap(
        book, torch, "(1, C_out, 1, 1)", "(C_out,)", "drop / add the three unit axes", _flattened, _as_channel_bias
    )


@dataclass(frozen=True)
class TensorConverter:
    """A converter made of independent one-to-one tensor maps."""

    name: str
    maps: tuple[TensorMap, ...]

    @property
    def book_names(self) -> tuple[str, ...]:
        """Book parameter names, in the order of the scratch component's ``params``."""
        return tuple(m.book for m in self.maps)

    @property
    def torch_names(self) -> tuple[str, ...]:
        """The torch ``state_dict`` keys this converter fills."""
        return tuple(m.torch for m in self.maps)

    @staticmethod
    def _check_keys(given: Mapping[str, np.ndarray], expected: tuple[str, ...], side: str) -> None:
        if set(given) != set(expected):
            raise ValueError(f"{side} arrays must have exactly the keys {sorted(expected)}; received {sorted(given)}")

    def to_torch(self, book: Mapping[str, np.ndarray]) -> Arrays:
        """Book-layout arrays -> torch-layout arrays keyed by ``state_dict`` names."""
        self._check_keys(book, self.book_names, "book")
        return {m.torch: m.to_torch(np.asarray(book[m.book])) for m in self.maps}

    def to_book(self, torch_arrays: Mapping[str, np.ndarray]) -> Arrays:
        """Torch-layout arrays keyed by ``state_dict`` names -> book-layout arrays."""
        self._check_keys(torch_arrays, self.torch_names, "torch")
        return {m.book: m.to_book(np.asarray(torch_arrays[m.torch])) for m in self.maps}

    def grads_to_book(self, torch_grads: Mapping[str, np.ndarray]) -> Arrays:
        """Torch parameter gradients -> book-layout gradients (same maps as the parameters)."""
        return self.to_book(torch_grads)

    def grads_to_torch(self, book_grads: Mapping[str, np.ndarray]) -> Arrays:
        """Book gradients -> torch layout (same maps as the parameters)."""
        return self.to_torch(book_grads)

    def prefixed(self, book_prefix: str, torch_prefix: str) -> TensorConverter:
        """The same maps with names prefixed, for one layer inside a model."""
        maps = tuple(replace(m, book=book_prefix + m.book, torch=torch_prefix + m.torch) for m in self.maps)
        return TensorConverter(f"{self.name}@{torch_prefix or book_prefix}", maps)


def combine(name: str, parts: list[TensorConverter]) -> TensorConverter:
    """One converter for a whole model from per-layer (already prefixed) converters."""
    return TensorConverter(name, tuple(m for part in parts for m in part.maps))


# The converters of chapters 3-4. The torch names are those of the twins in ``torch_impl``.
WEIGHT_MULTIPLY = TensorConverter("WeightMultiply", (transpose_2d("W", "weight"),))
BIAS_ADD = TensorConverter("BiasAdd", (bias_row("B", "bias"),))
DENSE = TensorConverter("Dense", (transpose_2d("W", "linear.weight"), bias_row("B", "linear.bias")))


CONV2D_OP = TensorConverter("Conv2D_Op", (swap_conv_axes("W", "weight"),))
CHANNEL_BIAS_ADD = TensorConverter("ChannelBiasAdd", (channel_bias("B", "bias"),))
CONV2D = TensorConverter("Conv2D", (swap_conv_axes("W", "conv.weight"),))
CONV2D_BIAS = TensorConverter("Conv2D+bias", (swap_conv_axes("W", "conv.weight"), channel_bias("B", "conv.bias")))


def dense_stack(n_layers: int, torch_prefix: str = "layers.{i}.") -> TensorConverter:
    """A stack of ``n_layers`` Dense layers: book names ``"{i}.W"``, ``"{i}.B"`` in the order of
    ``NeuralNetwork.params()``."""
    parts = [DENSE.prefixed(f"{i}.", torch_prefix.format(i=i)) for i in range(n_layers)]
    return combine(f"Dense x{n_layers}", parts)


# ---------------------------------------------------------------------------------------------------------
# Recurrent layers (chapter 6): split, stacked and summed tensors, so not one-to-one maps
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayoutRow:
    """One line of a layout table (the guide's documentation of a many-to-one map)."""

    book: str
    torch: str
    book_shape: str
    torch_shape: str
    rule: str


# Book gate names in torch's stacking order, per cell kind: torch stacks LSTM gates i, f, g, o and GRU gates
# r, z, n along axis 0 of weight_ih / weight_hh / bias_ih / bias_hh; the book keeps one tensor per gate.
TORCH_GATE_ORDER: dict[str, tuple[str, ...]] = {"RNN": ("f",), "LSTM": ("i", "f", "c", "o"), "GRU": ("r", "u", "h")}
TORCH_GATE_LABELS: dict[str, tuple[str, ...]] = {"RNN": ("",), "LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n")}


@dataclass(frozen=True)
class RecurrentConverter:
    """Book recurrent-layer dicts <-> the torch twin's ``state_dict`` (``nn.RNN``/``nn.LSTM``/``nn.GRU`` or
    the hand-written reset-before GRU, plus the ``fc`` projection).

    RNN / LSTM (book weights act on Z = [x, h], rows 0..V-1 for x, V..V+H-1 for h; torch gate order i,f,g,o):

        weight_ih_l0 = cat_g(W_g[:V]ᵀ)  (G·H, V)       weight_hh_l0 = cat_g(W_g[V:]ᵀ)  (G·H, H)
        bias_ih_l0   = cat_g(B_g)        (G·H,)         bias_hh_l0   = 0               (G·H,)
        back:  W_g = [w_ih[g]ᵀ ; w_hh[g]ᵀ],  B_g = (b_ih + b_hh)[g]

    GRU (book W_x* (V, H), W_h* (H, H); torch gate order r, z, n = book r, u, h):

        weight_ih_l0 = cat(W_xrᵀ, W_xuᵀ, W_xhᵀ),  weight_hh_l0 = cat(W_hrᵀ, W_huᵀ, W_hhᵀ),
        bias_ih_l0 = cat(B_r, B_u, B_h),  bias_hh_l0 = cat(0, 0, B_hn)  (B_hn only for reset="after"; 0 otherwise)
        back:  B_r = b_ir + b_hr,  B_u = b_iz + b_hz,  and for the candidate
               reset="after": B_h = b_in, B_hn = b_hn  (b_hn sits inside r ⊙ (·) and cannot be folded into b_in)
               reset="before": B_h = b_in + b_hn      (both are outside the matmul there)

    Projection: ``fc.weight = W_vᵀ`` (O, H), ``fc.bias = B_v[0]``.

    Gradients: torch gives b_ih and b_hh the same gradient wherever they are summed (∂L/∂b_ih = ∂L/∂b_hh), so
    the book's bias gradient is ``b_ih.grad`` (and ``dB_hn = b_hh.grad[n]``); ``grads_to_torch`` writes it into
    both. ``to_torch`` puts every summed bias into ``bias_ih`` and zeros into ``bias_hh`` (only their sum
    matters), so ``to_book(to_torch(p)) == p`` exactly.
    """

    name: str
    kind: str  # "RNN", "LSTM" or "GRU"
    module: str  # the recurrent submodule's name in the twin: "rnn", "lstm", "gru"
    reset: str = "before"  # GRU only
    book_prefix: str = ""
    torch_prefix: str = ""

    # ---- names ----------------------------------------------------------------------------------------

    @property
    def book_names(self) -> tuple[str, ...]:
        """Book names in the order of the scratch layer's ``params`` dict."""
        if self.kind == "GRU":
            names = [f"W_x{g}" for g in "ruh"] + [f"W_h{g}" for g in "ruh"] + [f"B_{g}" for g in "ruh"]
            names += ["W_v", "B_v"] + (["B_hn"] if self.reset == "after" else [])
        else:
            gates = ("f",) if self.kind == "RNN" else ("f", "i", "c", "o")
            names = [f"W_{g}" for g in gates] + [f"B_{g}" for g in gates] + ["W_v", "B_v"]
        return tuple(self.book_prefix + n for n in names)

    def _gate_order(self) -> tuple[str, ...]:
        """Book gate names in the order torch stacks them (a method, so the mutation self-test can break it)."""
        return TORCH_GATE_ORDER[self.kind]

    def _bias_hh(self, bias_ih: np.ndarray, grads: bool) -> np.ndarray:
        """The torch ``bias_hh`` for summed biases: 0 for parameters (the sum lives in ``bias_ih``), the same
        gradient as ``bias_ih`` for gradients."""
        return bias_ih.copy() if grads else np.zeros_like(bias_ih)

    def _t(self, suffix: str) -> str:
        return f"{self.torch_prefix}{self.module}.{suffix}"

    @property
    def torch_names(self) -> tuple[str, ...]:
        rec = tuple(self._t(s) for s in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))
        return (*rec, f"{self.torch_prefix}fc.weight", f"{self.torch_prefix}fc.bias")

    def _b(self, name: str) -> str:
        return self.book_prefix + name

    @property
    def maps(self) -> tuple[LayoutRow, ...]:
        """The layout table, in words (the porting guide renders it)."""
        order = TORCH_GATE_ORDER[self.kind]
        labels = TORCH_GATE_LABELS[self.kind]
        G = len(order)
        gh = "H" if G == 1 else f"{G}H"
        rows: list[LayoutRow] = []
        if self.kind == "GRU":
            for g, label in zip(order, labels, strict=True):
                block = f"block {label} (rows {order.index(g)}H..{order.index(g) + 1}H)"
                rows.append(
                    LayoutRow(
                        self._b(f"W_x{g}"), self._t("weight_ih_l0"), "(V, H)", f"({gh}, V)", f"transpose into {block}"
                    )
                )
                rows.append(
                    LayoutRow(
                        self._b(f"W_h{g}"), self._t("weight_hh_l0"), "(H, H)", f"({gh}, H)", f"transpose into {block}"
                    )
                )
            for g, label in zip(order, labels, strict=True):
                if g == "h" and self.reset == "after":
                    rule = "bias_ih block n = B_h; back: B_h = b_in (b_hn is the separate B_hn)"
                elif g == "h":
                    rule = "bias_ih block n = B_h, bias_hh block n = 0; back: B_h = b_in + b_hn"
                else:
                    rule = f"bias_ih block {label} = B_{g}, bias_hh block {label} = 0; "
                    rule += f"back: B_{g} = b_i{label} + b_h{label}"
                rows.append(
                    LayoutRow(
                        self._b(f"B_{g}"),
                        self._t("bias_ih_l0") + " + " + self._t("bias_hh_l0"),
                        "(1, H)",
                        f"({gh},) each",
                        rule,
                    )
                )
            if self.reset == "after":
                rows.append(
                    LayoutRow(
                        self._b("B_hn"),
                        self._t("bias_hh_l0"),
                        "(1, H)",
                        f"({gh},)",
                        "bias_hh block n (inside r ⊙ (W_hn h + b_hn)); bias_hh blocks r, z = 0",
                    )
                )
        else:
            for g, label in zip(order, labels, strict=True):
                where = "" if G == 1 else f" into block {label} (rows {order.index(g)}H..{order.index(g) + 1}H)"
                rows.append(
                    LayoutRow(
                        self._b(f"W_{g}"),
                        self._t("weight_ih_l0"),
                        "(V+H, H)",
                        f"({gh}, V)",
                        f"rows :V transposed{where}",
                    )
                )
                rows.append(
                    LayoutRow(
                        self._b(f"W_{g}"),
                        self._t("weight_hh_l0"),
                        "(V+H, H)",
                        f"({gh}, H)",
                        f"rows V: transposed{where}",
                    )
                )
            for g, label in zip(order, labels, strict=True):
                where = "" if G == 1 else f" block {label}"
                rows.append(
                    LayoutRow(
                        self._b(f"B_{g}"),
                        self._t("bias_ih_l0") + " + " + self._t("bias_hh_l0"),
                        "(1, H)",
                        f"({gh},) each",
                        f"bias_ih{where} = B_{g}, bias_hh{where} = 0; back: the sum",
                    )
                )
        rows.append(LayoutRow(self._b("W_v"), f"{self.torch_prefix}fc.weight", "(H, O)", "(O, H)", "transpose"))
        rows.append(
            LayoutRow(self._b("B_v"), f"{self.torch_prefix}fc.bias", "(1, O)", "(O,)", "drop / add the leading axis")
        )
        return tuple(rows)

    # ---- conversions ----------------------------------------------------------------------------------

    def _check(self, given: Mapping[str, np.ndarray], expected: tuple[str, ...], side: str) -> None:
        # A torch_impl layer's state_dict also holds its carried state (``carry``): not a parameter, see
        # ``CarryConverter`` / ``state_to_book`` for it.
        optional = {f"{self.torch_prefix}{TORCH_CARRY}"} if side == "torch" else set()
        TensorConverter._check_keys({k: v for k, v in given.items() if k not in optional}, expected, side)

    def _split(self, book: Mapping[str, np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per torch gate block: (input weight (H, V), recurrent weight (H, H)) in torch's order."""
        b = self._b
        order = self._gate_order()
        if self.kind == "GRU":
            w_ih = [np.asarray(book[b(f"W_x{g}")]).T for g in order]  # [V, H] -> [H, V]
            w_hh = [np.asarray(book[b(f"W_h{g}")]).T for g in order]  # [H, H] -> [H, H] (transposed)
            return w_ih, w_hh
        H = np.asarray(book[b(f"B_{order[0]}")]).shape[1]
        V = np.asarray(book[b(f"W_{order[0]}")]).shape[0] - H
        w_ih = [np.asarray(book[b(f"W_{g}")])[:V].T for g in order]  # rows :V of [V+H, H] -> [H, V]
        w_hh = [np.asarray(book[b(f"W_{g}")])[V:].T for g in order]  # rows V: of [V+H, H] -> [H, H]
        return w_ih, w_hh

    def _to_torch(self, book: Mapping[str, np.ndarray], grads: bool) -> Arrays:
        self._check(book, self.book_names, "book")
        b = self._b
        w_ih, w_hh = self._split(book)
        order = self._gate_order()
        biases = [np.asarray(book[b(f"B_{g}")]).reshape(-1) for g in order]  # each [1, H] -> [H]
        bias_ih = np.concatenate(biases)  # [G·H]
        # Parameters: the summed bias lives in bias_ih, bias_hh is 0. Gradients: dL/db_ih = dL/db_hh, both get it.
        bias_hh = self._bias_hh(bias_ih, grads)
        if self.kind == "GRU" and self.reset == "after":
            H = biases[0].size
            bias_hh[2 * H :] = np.asarray(book[b("B_hn")]).reshape(-1)  # block n of [3H] is b_hn itself
        return {
            self._t("weight_ih_l0"): np.ascontiguousarray(np.concatenate(w_ih, axis=0)),  # G x [H, V] -> [G·H, V]
            self._t("weight_hh_l0"): np.ascontiguousarray(np.concatenate(w_hh, axis=0)),  # G x [H, H] -> [G·H, H]
            self._t("bias_ih_l0"): bias_ih,
            self._t("bias_hh_l0"): bias_hh,
            f"{self.torch_prefix}fc.weight": np.ascontiguousarray(np.asarray(book[b("W_v")]).T),  # [H, O] -> [O, H]
            f"{self.torch_prefix}fc.bias": np.asarray(book[b("B_v")]).reshape(-1).copy(),  # [1, O] -> [O]
        }

    def _to_book(self, arrays: Mapping[str, np.ndarray], grads: bool) -> Arrays:
        self._check(arrays, self.torch_names, "torch")
        b = self._b
        w_ih = np.asarray(arrays[self._t("weight_ih_l0")])
        w_hh = np.asarray(arrays[self._t("weight_hh_l0")])
        b_ih = np.asarray(arrays[self._t("bias_ih_l0")])
        b_hh = np.asarray(arrays[self._t("bias_hh_l0")])
        order = self._gate_order()
        H = w_hh.shape[1]
        out: Arrays = {}
        for k, g in enumerate(order):
            rows = slice(k * H, (k + 1) * H)
            if self.kind == "GRU":
                out[b(f"W_x{g}")] = np.ascontiguousarray(w_ih[rows].T)  # [H, V] -> [V, H]
                out[b(f"W_h{g}")] = np.ascontiguousarray(w_hh[rows].T)  # [H, H] -> [H, H]
            else:
                # [H, V]ᵀ stacked over [H, H]ᵀ -> [V+H, H], rows ordered as Z = [x, h]
                out[b(f"W_{g}")] = np.ascontiguousarray(np.concatenate([w_ih[rows].T, w_hh[rows].T], axis=0))
            separate_hn = self.kind == "GRU" and self.reset == "after" and g == "h"
            # Forward: only the sum b_ih + b_hh acts. Gradients: a summed bias has the same gradient on both.
            bias = b_ih[rows] if grads or separate_hn else b_ih[rows] + b_hh[rows]
            out[b(f"B_{g}")] = bias.reshape(1, H).copy()  # [H] -> [1, H]
        if self.kind == "GRU" and self.reset == "after":
            out[b("B_hn")] = b_hh[2 * H :].reshape(1, H).copy()  # block n of [3H] -> [1, H]
        out[b("W_v")] = np.ascontiguousarray(np.asarray(arrays[f"{self.torch_prefix}fc.weight"]).T)  # [O, H] -> [H, O]
        out[b("B_v")] = np.asarray(arrays[f"{self.torch_prefix}fc.bias"]).reshape(1, -1).copy()  # [O] -> [1, O]
        return {name: out[name] for name in self.book_names}

    def to_torch(self, book: Mapping[str, np.ndarray]) -> Arrays:
        """Book dict -> torch ``state_dict`` arrays (summed biases in ``bias_ih``, zeros in ``bias_hh``)."""
        return self._to_torch(book, grads=False)

    def to_book(self, torch_arrays: Mapping[str, np.ndarray]) -> Arrays:
        """Torch ``state_dict`` arrays -> book dict (summed biases added back together)."""
        return self._to_book(torch_arrays, grads=False)

    def grads_to_book(self, torch_grads: Mapping[str, np.ndarray]) -> Arrays:
        """Torch parameter gradients -> book gradients (a summed bias's gradient is ``b_ih.grad``)."""
        return self._to_book(torch_grads, grads=True)

    def grads_to_torch(self, book_grads: Mapping[str, np.ndarray]) -> Arrays:
        """Book gradients -> torch gradients (a summed bias's gradient goes to both ``b_ih`` and ``b_hh``)."""
        return self._to_torch(book_grads, grads=True)

    def prefixed(self, book_prefix: str, torch_prefix: str) -> RecurrentConverter:
        """The same converter for one layer inside a model (names prefixed)."""
        return RecurrentConverter(
            f"{self.name}@{torch_prefix or book_prefix}",
            self.kind,
            self.module,
            self.reset,
            book_prefix + self.book_prefix,
            torch_prefix + self.torch_prefix,
        )


@dataclass(frozen=True)
class StackConverter:
    """A model's converter made of per-layer converters (any kinds), each owning its prefixed names."""

    name: str
    parts: tuple[RecurrentConverter | TensorConverter, ...]

    @property
    def book_names(self) -> tuple[str, ...]:
        return tuple(n for p in self.parts for n in p.book_names)

    @property
    def torch_names(self) -> tuple[str, ...]:
        return tuple(n for p in self.parts for n in p.torch_names)

    @property
    def maps(self) -> tuple[TensorMap | LayoutRow, ...]:
        return tuple(m for p in self.parts for m in p.maps)

    def _each(self, given: Mapping[str, np.ndarray], side: str, method: str) -> Arrays:
        expected = self.book_names if side == "book" else self.torch_names
        # The recurrent layers' carried state (``carry``) may come along in a torch state_dict (see ``state_to_book``).
        optional = {carry_of(p).torch_name for p in self.parts if isinstance(p, RecurrentConverter)}
        optional = optional if side == "torch" else set()
        TensorConverter._check_keys({k: v for k, v in given.items() if k not in optional}, expected, side)
        out: Arrays = {}
        for part in self.parts:
            names = part.book_names if side == "book" else part.torch_names
            out.update(getattr(part, method)({n: given[n] for n in names}))
        return out

    def to_torch(self, book: Mapping[str, np.ndarray]) -> Arrays:
        return self._each(book, "book", "to_torch")

    def to_book(self, torch_arrays: Mapping[str, np.ndarray]) -> Arrays:
        return self._each(torch_arrays, "torch", "to_book")

    def grads_to_book(self, torch_grads: Mapping[str, np.ndarray]) -> Arrays:
        return self._each(torch_grads, "torch", "grads_to_book")

    def grads_to_torch(self, book_grads: Mapping[str, np.ndarray]) -> Arrays:
        return self._each(book_grads, "book", "grads_to_torch")


RNN = RecurrentConverter("RNNLayer", "RNN", "rnn")
LSTM = RecurrentConverter("LSTMLayer", "LSTM", "lstm")
GRU_BEFORE = RecurrentConverter("GRULayer(reset=before)", "GRU", "gru", "before")
GRU_AFTER = RecurrentConverter("GRULayer(reset=after)", "GRU", "gru", "after")


def recurrent_stack(kinds: list[RecurrentConverter], torch_prefix: str = "layers.{i}.") -> StackConverter:
    """Stacked recurrent layers: book names ``"{i}.W_f"`` ..., torch keys ``layers.{i}.lstm.weight_ih_l0`` ..."""
    parts = tuple(k.prefixed(f"{i}.", torch_prefix.format(i=i)) for i, k in enumerate(kinds))
    return StackConverter(" + ".join(k.name for k in kinds), parts)


#: Any converter: one-to-one maps, a recurrent layer's split/stacked/summed tensors, or a stack of either.
Converter = TensorConverter | RecurrentConverter | StackConverter


# ---------------------------------------------------------------------------------------------------------
# The book-mode carried state of the recurrent layers (saved with the weights on both sides)
# ---------------------------------------------------------------------------------------------------------

#: The torch_impl recurrent layers' buffer holding the carried state: ``(S, H)`` rows h (, c), or ``(0, H)``.
TORCH_CARRY = "carry"
#: The scratch layers' names for it in ``state()`` (the book's ``start_H`` / ``start_C`` attributes), each (1, H).
BOOK_CARRY = ("start_H", "start_C")


@dataclass(frozen=True)
class CarryConverter:
    """A recurrent layer's carried state: scratch ``start_H`` (and ``start_C``, LSTM), each ``(1, H)``, <->
    the torch twin's ``carry`` buffer ``(S, H)`` (S = 1, or 2 with rows h, c).

        to_torch:  carry = concat(start_H, start_C) along axis 0     (S x (1, H) -> (S, H))
        to_book:   start_H = carry[0:1], start_C = carry[1:2]          ((S, H) -> S x (1, H))

    No carried state is no entry on the scratch side and either no ``carry`` key or a ``(0, H)`` one on the
    torch side (both load as "no carried state yet"): ``to_torch`` then returns ``{}``, ``to_book`` too.
    """

    n_states: int  # 1 (RNN, GRU) or 2 (LSTM)
    book_prefix: str = ""
    torch_prefix: str = ""

    @property
    def book_names(self) -> tuple[str, ...]:
        return tuple(self.book_prefix + n for n in BOOK_CARRY[: self.n_states])

    @property
    def torch_name(self) -> str:
        return self.torch_prefix + TORCH_CARRY

    def to_torch(self, book: Mapping[str, np.ndarray]) -> Arrays:
        """The ``start_*`` entries of ``book`` (other names are ignored) -> ``{carry: (S, H)}``, or ``{}``."""
        given = [n for n in self.book_names if n in book]
        if not given:
            return {}
        if len(given) != self.n_states:
            raise ValueError(f"book arrays must hold all of {list(self.book_names)} or none; received only {given}")
        rows = [np.asarray(book[n]) for n in self.book_names]
        for name, row in zip(self.book_names, rows, strict=True):
            if row.ndim != 2 or row.shape[0] != 1:
                raise ValueError(f"book array {name!r} (a carried state) must have shape (1, H); received {row.shape}")
        return {self.torch_name: np.ascontiguousarray(np.concatenate(rows, axis=0))}  # S x (1, H) -> (S, H)

    def to_book(self, torch_arrays: Mapping[str, np.ndarray]) -> Arrays:
        """``carry`` of ``torch_arrays`` (other keys are ignored) -> ``{start_H: (1, H), ...}``, or ``{}``."""
        if self.torch_name not in torch_arrays:
            return {}
        carry = np.asarray(torch_arrays[self.torch_name])
        if carry.ndim != 2 or carry.shape[0] not in (0, self.n_states):
            raise ValueError(
                f"torch array {self.torch_name!r} (the carried state) must have shape (0, H) or "
                f"({self.n_states}, H); received {carry.shape}"
            )
        if carry.shape[0] == 0:
            return {}
        return {name: carry[i : i + 1].copy() for i, name in enumerate(self.book_names)}  # (S, H) -> S x (1, H)


def carry_of(converter: RecurrentConverter) -> CarryConverter:
    """The carried-state converter of the layer that ``converter`` maps (same prefixes)."""
    return CarryConverter(2 if converter.kind == "LSTM" else 1, converter.book_prefix, converter.torch_prefix)


def _recurrent_parts(converter: Converter) -> tuple[RecurrentConverter, ...]:
    if isinstance(converter, RecurrentConverter):
        return (converter,)
    if isinstance(converter, StackConverter):
        return tuple(p for p in converter.parts if isinstance(p, RecurrentConverter))
    return ()


def state_to_torch(converter: Converter, book_state: Mapping[str, np.ndarray]) -> Arrays:
    """A scratch model's or layer's ``state()`` (parameters plus ``start_*`` carries) -> torch ``state_dict``
    arrays (parameters plus ``carry`` buffers). A layer without a carried state gets no ``carry`` key, which
    torch_impl loads as "no carried state yet"."""
    carries = [carry_of(p) for p in _recurrent_parts(converter)]
    carry_names = {n for c in carries for n in c.book_names}
    out = converter.to_torch({k: v for k, v in book_state.items() if k not in carry_names})
    for carry in carries:
        out.update(carry.to_torch(book_state))
    return out


def state_to_book(converter: Converter, torch_state: Mapping[str, np.ndarray]) -> Arrays:
    """A torch_impl ``state_dict`` (as arrays: parameters plus ``carry`` buffers, which may be missing) -> the
    scratch ``load_state`` dict (parameters plus ``start_*`` for every layer that has a carried state)."""
    carries = [carry_of(p) for p in _recurrent_parts(converter)]
    out = converter.to_book(torch_state)  # the parameter converters leave the carry keys aside
    for carry in carries:
        out.update(carry.to_book(torch_state))
    return out


# ---------------------------------------------------------------------------------------------------------
# Chapter 7's autoencoder (here so that the porting toolkit can use it without importing the specs)
# ---------------------------------------------------------------------------------------------------------

#: Book names (the scratch ``Autoencoder.param_names``) <-> the torch twin's ``state_dict`` keys
#: (``parity_tests.specs.autoencoder`` re-exports it under the same name).
AUTOENCODER_CONVERTER: TensorConverter = combine(
    "Autoencoder",
    [
        CONV2D_BIAS.prefixed("encoder.conv1.", "encoder.conv1."),
        CONV2D_BIAS.prefixed("encoder.conv2.", "encoder.conv2."),
        DENSE.prefixed("encoder.dense.", "encoder.dense."),
        DENSE.prefixed("decoder.dense.", "decoder.dense."),
        CONV2D_BIAS.prefixed("decoder.conv1.", "decoder.conv1."),
        CONV2D_BIAS.prefixed("decoder.conv2.", "decoder.conv2."),
    ],
)
