"""Chapter 6's next-character model: ``SequenceSoftmaxCrossEntropy``, ``RNNModel``, ``RNNTrainer``, ``sample``.

Notation: N batch, T time steps, V vocabulary size (= input features of the first layer = outputs of the
last layer), C classes (= V here). Arrays are batch-first: one-hot inputs ``x [N, T, V]``, logits
``[N, T, V]``, one-hot next-character targets ``y [N, T, V]``.

Model (the book's ``RNNModel``): a stack of recurrent layers (``scratch.rnn``), each ending with its own
output projection, so layer k feeds its outputs ``[N, T, O_k]`` to layer k+1:

    forward:   z_0 = x,  z_k = layer_k(z_{k-1}),  logits = z_L          [N, T, V]
    backward:  g_L = dL/dlogits,  g_{k-1} = layer_k.backward(g_k),  returns g_0 = dL/dx   [N, T, V]

Loss (the book's RNN notebook): softmax over the last axis and categorical cross-entropy summed over every
sample and time step, with NO division (``reduction="sum"``):

    log p = z - m - log Σ_c exp(z - m)     (m = max over c: stable for any finite logits)
    L = -Σ_{n,t,c} Y log p,                 dL/dz = p - Y

``reduction="mean"`` divides both by N·T (torch's ``CrossEntropyLoss`` mean over batch and time).

Training (``RNNTrainer``): each iteration takes ``batch_size`` windows of ``sequence_length + 1`` characters,
runs ``single_step`` (forward, loss, backward) and ``optim.step()``. The windows are

* ``windows="random"`` (the default, this project's choice): drawn uniformly with replacement
  (``data.text.next_char_batch``). One ``numpy.random.Generator`` (``seed``) draws the windows AND the sampled
  characters, so a run is reproducible; sampling consumes draws, so ``sample_every`` changes later batches;
* ``windows="sliding"`` (the book's ``RNNTrainer``): window i of a batch starts at ``p + i`` (overlapping, one
  character apart), ``p`` starts at 0 and advances by ``batch_size`` each iteration, and goes back to 0 before
  a batch when ``p + T + N + 1 > len(text)`` (the book's test, one character stricter than needed). No
  randomness; the generator then draws only the sampled characters.

Sampling (the book's ``sample_output``): a deep copy of the model, every layer in the book's carry mode,
is fed one one-hot character at a time ``[1, 1, V]``; the carry (the batch mean of one sample, i.e. the
state itself) links the steps, and the next character is drawn from ``softmax(logits / temperature)``.
Differences from the book, on purpose: a deterministic sorted vocabulary (``data.text.Vocabulary``), an
explicit generator instead of NumPy's global one, a ``temperature`` knob, and a loss VALUE that is the
function its gradient differentiates (the book's printed value is ``book_value()``).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from data.progress import ProgressBar
from data.text import Vocabulary, load_text, next_char_batch, one_hot_sequence, sequence_windows

from ._validation import (
    _describe,
    check_choice,
    check_dtype_matches,
    check_float_array,
    check_int,
    check_one_hot,
    check_positive,
)
from .losses import Loss, SoftmaxCrossEntropy, book_cross_entropy_terms, softmax_and_log, target_log_likelihood
from .optimizers import Optimizer
from .rnn import GRULayer, LSTMLayer, RNNLayer
from .rnn import _RecurrentLayer as RecurrentLayer

__all__ = ["RNNModel", "RNNTrainer", "SequenceSoftmaxCrossEntropy", "moving_average", "sample"]

_REDUCTIONS = ("sum", "mean")
_WINDOWS = ("random", "sliding")
_SEQ_LAYOUT = "[batch, time, vocab]"


class SequenceSoftmaxCrossEntropy(Loss):
    """Chapter 6's loss on logits ``[N, T, C]`` and one-hot targets ``[N, T, C]`` (C >= 2).

        forward:   log p = z - m - log Σ_c exp(z - m)      (softmax over the last axis, m its max)
                   reduction="sum":  L = -Σ_{n,t,c} Y log p          (the book's RNN notebook: no division)
                   reduction="mean": L = -Σ_{n,t,c} Y log p / (N·T)  (torch ``CrossEntropyLoss`` mean)
        backward:  dL/dz = p - Y  ("sum")  or  (p - Y) / (N·T)  ("mean"),  shape [N, T, C]

    Targets must be one-hot along the last axis (0s and exactly one 1 per (n, t)). ``book_value()`` is the
    value the notebook printed, which adds -(1 - Y) log(1 - p) with p clipped to [eps, 1 - eps] (same
    reduction); it is not the function ``backward`` differentiates and is kept for comparison only.
    """

    def __init__(self, reduction: str = "sum", eps: float = 1e-9) -> None:
        self.reduction = check_choice(reduction, "reduction", _REDUCTIONS)
        self.eps = check_positive(eps, "eps")

    def _check(self, prediction: np.ndarray, target: np.ndarray) -> None:
        name = type(self).__name__
        check_float_array(prediction, f"{name} prediction", ndim=3, layout="[batch, time, classes]")
        check_float_array(target, f"{name} target", ndim=3, layout="[batch, time, classes]")
        if prediction.shape != target.shape:
            raise ValueError(
                f"{name} target must have the prediction's shape {prediction.shape}; received shape {target.shape}"
            )
        check_dtype_matches(target, f"{name} target", prediction, "the prediction")
        if prediction.shape[2] < 2:
            raise ValueError(f"{name} needs at least 2 classes on the last axis; received shape {prediction.shape}")
        check_one_hot(target, f"{name} target")

    def _divisor(self) -> int:
        N, T, _ = self.prediction.shape
        return 1 if self.reduction == "sum" else N * T

    def _output(self) -> float:
        self.softmax_preds, log_p = softmax_and_log(self.prediction, axis=2)  # both [N, T, C]
        return -target_log_likelihood(self.target, log_p) / self._divisor()

    def _input_grad(self) -> np.ndarray:
        grad: np.ndarray = self.softmax_preds - self.target  # [N, T, C]
        return grad if self.reduction == "sum" else grad / self._divisor()

    def book_value(self) -> float:
        """The notebook's printed value Σ[-Y log p - (1 - Y) log(1 - p)] (divided by N·T for "mean"),
        p clipped to [eps, 1 - eps], computed in log space (finite in float32 too, where 1 - 1e-9 rounds to 1)."""
        if not hasattr(self, "softmax_preds"):
            raise RuntimeError("SequenceSoftmaxCrossEntropy.book_value called before forward")
        return book_cross_entropy_terms(self.prediction, self.target, self.eps, axis=2) / self._divisor()


class RNNModel:
    """The book's ``RNNModel(layers, sequence_length, vocab_size, loss)``: recurrent layers plus a loss.

    ``layers`` are ``RNNLayer``/``LSTMLayer``/``GRULayer`` instances; the last one must output
    ``vocab_size`` values per step, and the first one receives ``vocab_size`` one-hot features.
    ``sequence_length`` is the training window length T that ``RNNTrainer`` uses; ``forward`` itself
    accepts any T (the layers loop over however many steps they are given, e.g. T = 1 when sampling).
    ``loss=None`` is ``SequenceSoftmaxCrossEntropy("sum")`` (the notebook's). With scratch's 2-D
    ``SoftmaxCrossEntropy`` the logits and targets are reshaped ``[N, T, V] -> [N·T, V]`` for it, which
    makes it the MEAN over the N·T predictions (``SequenceSoftmaxCrossEntropy("mean")``); any other
    ``Loss`` receives the ``[N, T, V]`` arrays as they are.

    ``params()`` and ``param_grads()`` yield the live ``value`` / ``deriv`` arrays in the same order (layer
    order, then each layer's ``params`` key order), so scratch optimizers (``optim.net = model``) update the
    layers in place. They are empty until the first ``forward`` builds the layers.
    """

    def __init__(self, layers: list[Any], sequence_length: int, vocab_size: int, loss: Loss | None = None) -> None:
        if not isinstance(layers, list | tuple):
            raise TypeError(
                f"layers must be a list of RNNLayer/LSTMLayer/GRULayer instances; received {_describe(layers)}"
            )
        if not layers:
            raise ValueError("layers must contain at least one recurrent layer; received an empty list")
        for k, layer in enumerate(layers):
            if not isinstance(layer, RecurrentLayer):
                raise TypeError(
                    f"layers[{k}] must be an RNNLayer, LSTMLayer or GRULayer instance; received {_describe(layer)}"
                )
        self.layers: list[RNNLayer | LSTMLayer | GRULayer] = list(layers)
        self.sequence_length = check_int(sequence_length, "sequence_length", 1)
        self.vocab_size = check_int(vocab_size, "vocab_size", 2)
        if self.layers[-1].output_size != self.vocab_size:
            raise ValueError(
                f"the last layer must output vocab_size={self.vocab_size} values per step (one logit per character); "
                f"received output_size={self.layers[-1].output_size}"
            )
        expected = self.vocab_size  # features reaching each layer: vocab_size, then the previous output_size
        for k, layer in enumerate(self.layers):
            if layer.input_size is not None and layer.input_size != expected:
                raise ValueError(
                    f"layers[{k}] was built for {layer.input_size} input features but receives {expected} "
                    f"({'vocab_size' if k == 0 else f'layers[{k - 1}].output_size'})"
                )
            expected = layer.output_size
        if loss is None:
            loss = SequenceSoftmaxCrossEntropy("sum")
        if isinstance(loss, type):
            raise TypeError(f"loss must be an instance such as {loss.__name__}(); received the class itself")
        if not isinstance(loss, Loss):
            raise TypeError(f"loss must be a scratch Loss instance or None; received {_describe(loss)}")
        self.loss = loss

    @property
    def dtype(self) -> np.dtype[Any]:
        """The parameters' dtype (the first built layer's), float64 before any layer is built."""
        for layer in self.layers:
            if layer.params:
                return next(iter(layer.params.values()))["value"].dtype
        return np.dtype(np.float64)

    def forward(self, x_batch: np.ndarray) -> np.ndarray:
        """One-hot characters ``[N, T, V]`` (any T) -> logits ``[N, T, V]`` through every layer."""
        x = check_float_array(x_batch, "RNNModel x_batch", ndim=3, layout=_SEQ_LAYOUT)
        if x.shape[2] != self.vocab_size:
            raise ValueError(
                f"RNNModel x_batch must have vocab_size={self.vocab_size} features (the first layer's input "
                f"features); received shape {x.shape} with {x.shape[2]} features"
            )
        out = x
        for layer in self.layers:
            out = layer.forward(out)
        return out

    def backward(self, loss_grad: np.ndarray) -> np.ndarray:
        """dL/dlogits ``[N, T, V]`` back through every layer (filling each ``deriv``); returns dL/dx ``[N, T, V]``."""
        grad = loss_grad
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def single_step(self, x_batch: np.ndarray, y_batch: np.ndarray) -> float:
        """Forward, loss and backward on one batch; return the loss value (the optimizer steps separately)."""
        logits = self.forward(x_batch)
        check_float_array(y_batch, "RNNModel y_batch", ndim=3, layout=_SEQ_LAYOUT)
        if y_batch.shape != logits.shape:
            raise ValueError(
                f"RNNModel y_batch must have the output's shape {logits.shape} (one-hot next characters); "
                f"received shape {y_batch.shape}"
            )
        if isinstance(self.loss, SoftmaxCrossEntropy):
            N, T, V = logits.shape
            # The 2-D loss takes one row per prediction: [N, T, V] -> [N·T, V] (its /rows is then /(N·T)).
            value = self.loss.forward(logits.reshape(N * T, V), y_batch.reshape(N * T, V))
            loss_grad = self.loss.backward().reshape(N, T, V)  # [N·T, V] -> [N, T, V]
        else:
            value = self.loss.forward(logits, y_batch)
            loss_grad = self.loss.backward()
        self.backward(loss_grad)
        return value

    def params(self) -> Iterator[np.ndarray]:
        """Every parameter array (the live ``value``), layer by layer, in each layer's ``params`` key order."""
        for layer in self.layers:
            for entry in layer.params.values():
                yield entry["value"]

    def param_grads(self) -> Iterator[np.ndarray]:
        """Every parameter gradient (the current ``deriv``), in the same order as ``params()``."""
        for layer in self.layers:
            for entry in layer.params.values():
                yield entry["deriv"]

    def reset_state(self) -> None:
        """Forget every layer's book-mode carry (the next forward starts from zeros)."""
        for layer in self.layers:
            layer.reset_state()

    def state(self) -> dict[str, np.ndarray]:
        """Every layer's ``state()`` (parameters and carried state) with the names prefixed ``"{i}."`` (the
        names of ``parity_tests.converters.recurrent_stack``)."""
        return {f"{i}.{name}": value for i, layer in enumerate(self.layers) for name, value in layer.state().items()}

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Load what ``state()`` returns: each layer ``i`` gets the entries named ``"{i}.<name>"``
        (``RecurrentLayer.load_state``); any other name is an error."""
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state needs a mapping name -> ndarray; received {_describe(state)}")
        parts: list[dict[str, np.ndarray]] = [{} for _ in self.layers]
        for key, value in state.items():
            index, _, name = str(key).partition(".")
            if not index.isdigit() or int(index) >= len(self.layers) or not name:
                raise ValueError(
                    f"load_state names must be '<layer index>.<name>' with an index below {len(self.layers)}; "
                    f"received {key!r}"
                )
            parts[int(index)][name] = value
        for layer, part in zip(self.layers, parts, strict=True):
            layer.load_state(part)


def _check_model(model: Any) -> RNNModel:
    if not isinstance(model, RNNModel):
        raise TypeError(f"model must be a scratch RNNModel; received {_describe(model)}")
    return model


def _softmax_with_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / temperature) of a 1-D vector in float64 (max-subtracted first, so a tiny
    temperature gives exactly the one-hot argmax, ties shared)."""
    z = logits.astype(np.float64) - float(np.max(logits))  # every entry <= 0
    with np.errstate(over="ignore"):  # z / 1e-300 may overflow to -inf: exp gives exactly 0
        z = z / temperature
    p = np.exp(z)
    probabilities: np.ndarray = p / p.sum()
    return probabilities


def sample(
    model: RNNModel,
    start_index: int,
    length: int,
    *,
    temperature: float = 1.0,
    rng: np.random.Generator | np.random.RandomState,
) -> list[int]:
    """Draw ``length`` characters, one at a time, starting from character ``start_index``.

    A deep copy of ``model`` is used (the model itself is unchanged), each layer switched to
    ``hidden_state="book"`` keeping its current carry (a layer in "zeros" mode has none: it starts from
    zeros). Step k feeds the one-hot of the previous character ``[1, 1, V]``; the layer carries its last
    state (the mean over a batch of one is the state itself) to step k+1. The next character is
    ``rng.choice(V, p=softmax(logits[0, -1] / temperature))``; temperature -> 0 approaches the argmax. ``rng`` is
    a ``numpy.random.Generator`` or a legacy ``RandomState`` (whose ``choice`` draws what the book's
    ``np.random.choice`` draws from the same state).
    Returns the drawn indices (not including ``start_index``).
    """
    model = _check_model(model)
    V = model.vocab_size
    start = check_int(start_index, "start_index", 0)
    if start >= V:
        raise ValueError(f"start_index must be in [0, vocab_size={V}); received {start}")
    length = check_int(length, "length", 1)
    temperature = check_positive(temperature, "temperature")
    if not isinstance(rng, np.random.Generator | np.random.RandomState):
        raise TypeError(
            "rng must be a numpy.random.Generator (np.random.default_rng(seed)) or a numpy.random.RandomState; "
            f"received {_describe(rng)}"
        )
    sampler = copy.deepcopy(model)
    for layer in sampler.layers:
        layer.hidden_state = "book"
    eye = np.eye(V, dtype=model.dtype)
    drawn: list[int] = []
    current = start
    for _ in range(length):
        x = eye[current][None, None, :]  # [V] -> [1, 1, V]
        logits = sampler.forward(x)  # [1, 1, V]
        p = _softmax_with_temperature(logits[0, -1], temperature)
        current = int(rng.choice(V, p=p))
        drawn.append(current)
    return drawn


def moving_average(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average (the book's ``deque(maxlen=window)``): ``out[i] = mean(values[max(0, i-w+1) : i+1])``.

    Same length as ``values`` (the first ``window - 1`` entries average what exists so far); float64.
    """
    window = check_int(window, "window", 1)
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"values must be a 1-D sequence of numbers; received shape {arr.shape}")
    if arr.size == 0:
        return arr.copy()
    out = np.empty_like(arr)
    head = min(window - 1, arr.size)  # entries with fewer than ``window`` values so far
    out[:head] = np.cumsum(arr[:head]) / np.arange(1, head + 1)
    if arr.size >= window:
        # [n] -> [n - w + 1, w] windows (a view), each averaged on its own (no long running sum to drift)
        out[head:] = np.lib.stride_tricks.sliding_window_view(arr, window).mean(axis=1)
    return out


class RNNTrainer:
    """The book's ``RNNTrainer(text_file, model, optim, batch_size=32)`` for next-character training.

    Give exactly one of ``text_file`` (a UTF-8 file, e.g. ``data.text.find_text()``) and ``text=``. The
    vocabulary is ``Vocabulary.from_text`` (sorted characters); its size must equal ``model.vocab_size``.
    ``optim.net = model`` (as the book's trainer hands the model to its optimizer). ``self.rng =
    np.random.default_rng(seed)`` is the only randomness: batch windows (``windows="random"``) and sampled
    characters. ``windows="sliding"`` takes the book's overlapping windows in order instead (module docstring;
    ``self.position`` is the next batch's first start), and needs ``len(text) >= sequence_length + batch_size + 1``.
    """

    def __init__(
        self,
        text_file: str | os.PathLike[str] | None,
        model: RNNModel,
        optim: Optimizer,
        batch_size: int = 32,
        *,
        text: str | None = None,
        seed: int = 0,
        windows: str = "random",
    ) -> None:
        if (text_file is None) == (text is None):
            raise ValueError(
                "give exactly one of text_file (a path) and text= (a str); received "
                + ("neither" if text is None else f"both text_file={text_file!r} and text")
            )
        if text is None:
            text = load_text(text_file)  # type: ignore[arg-type]  # not None: checked above
        elif not isinstance(text, str):
            raise TypeError(f"text must be a str; received {_describe(text)}")
        if not text:
            raise ValueError("the training text must be non-empty; received an empty text")
        self.model = _check_model(model)
        if not isinstance(optim, Optimizer):
            raise TypeError(f"optim must be a scratch Optimizer (SGD, AdaGrad, ...); received {_describe(optim)}")
        self.batch_size = check_int(batch_size, "batch_size", 1)
        self.seed = check_int(seed, "seed", 0)
        self.windows = check_choice(windows, "windows", _WINDOWS)
        T = self.model.sequence_length
        if len(text) < T + 1:
            raise ValueError(
                f"the text must have at least sequence_length + 1 = {T + 1} characters for one window "
                f"(inputs plus the next-character target); received {len(text)}"
            )
        if self.windows == "sliding" and len(text) < T + self.batch_size + 1:
            raise ValueError(
                f"sliding windows need a text of at least sequence_length + batch_size + 1 = "
                f"{T + self.batch_size + 1} characters (one batch of overlapping windows); received {len(text)}"
            )
        self.vocab = Vocabulary.from_text(text)
        if self.vocab.size != self.model.vocab_size:
            raise ValueError(
                f"the text has {self.vocab.size} distinct characters but model.vocab_size={self.model.vocab_size}; "
                "build the model's first input and last output with the text's vocabulary size"
            )
        self.text = text
        self.indices = self.vocab.encode(text)  # int64 [len(text)]
        self.optim = optim
        self.optim.net = self.model  # type: ignore[assignment]  # duck-typed: params() and param_grads()
        self.rng = np.random.default_rng(self.seed)
        self.position = 0  # windows="sliding": the first start of the next batch
        self.losses: list[float] = []
        self.samples: list[tuple[int, str]] = []

    def _char_index(self, input_char: Any) -> int:
        if isinstance(input_char, str):
            if len(input_char) != 1:
                raise TypeError(f"input_char must be one character or an index; received the str {input_char!r}")
            if input_char not in self.vocab:
                raise ValueError(
                    f"input_char {input_char!r} is not in the text's vocabulary of {self.vocab.size} characters"
                )
            return self.vocab.char_to_index[input_char]
        index = check_int(input_char, "input_char", 0)
        if index >= self.vocab.size:
            raise ValueError(f"input_char index must be in [0, {self.vocab.size}); received {index}")
        return index

    def next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The next training batch, one-hot ``(inputs [N, T, V], targets [N, T, V])`` in the model's dtype.

        ``windows="random"``: N starts drawn with ``self.rng`` (``data.text.next_char_batch``).
        ``windows="sliding"`` (the book's): first ``self.position`` goes back to 0 if
        ``position + T + N + 1 > len(text)``; window i starts at ``position + i``; then ``position += N``.
        """
        V, T, N = self.model.vocab_size, self.model.sequence_length, self.batch_size
        if self.windows == "random":
            return next_char_batch(self.indices, V, T, N, rng=self.rng, dtype=self.model.dtype)
        if self.position + T + N + 1 > self.indices.size:
            self.position = 0
        inputs, targets = sequence_windows(self.indices, T, self.position + np.arange(N))  # each [N, T]
        self.position += N
        return one_hot_sequence(inputs, V, self.model.dtype), one_hot_sequence(targets, V, self.model.dtype)

    def sample_output(self, input_char: int | str, sample_length: int, *, temperature: float = 1.0) -> str:
        """``sample_length`` characters drawn after ``input_char`` (a character or its index), with ``self.rng``."""
        start = self._char_index(input_char)
        drawn = sample(self.model, start, sample_length, temperature=temperature, rng=self.rng)
        return self.vocab.decode(drawn)

    def train(
        self,
        num_iterations: int,
        sample_every: int = 100,
        *,
        sample_length: int = 100,
        progress: bool | None = None,
        print_fn: Callable[[str], Any] | None = print,
    ) -> list[float]:
        """Run ``num_iterations`` training steps; return (and store as ``self.losses``) every step's loss.

        Iteration i: ``x, y = self.next_batch()`` (random or sliding windows), ``loss = model.single_step(x, y)``,
        ``optim.step()``. After every ``sample_every`` iterations ``print_fn`` gets the iteration, the moving
        average of the last 100 losses (the book's window) and ``sample_length`` characters sampled after the
        last target character of the batch's first window; ``self.samples`` collects ``(iteration, text)``. The
        samples are drawn whatever ``print_fn`` is (``None`` prints nothing), so random batches depend only on
        the seed, ``sample_every`` and ``sample_length``; sliding windows continue from ``self.position``.
        ``progress`` draws a bar on stderr (``None``: only on a terminal). The model and the optimizer keep
        their state between calls; the generator continues its stream.
        """
        num_iterations = check_int(num_iterations, "num_iterations", 1)
        sample_every = check_int(sample_every, "sample_every", 1)
        sample_length = check_int(sample_length, "sample_length", 1)
        if print_fn is not None and not callable(print_fn):
            raise TypeError(f"print_fn must be callable (e.g. print) or None; received {_describe(print_fn)}")
        model = self.model
        bar = ProgressBar(num_iterations, enabled=progress)
        losses: list[float] = []
        window = 100
        for i in range(num_iterations):
            x, y = self.next_batch()
            loss = model.single_step(x, y)
            if not np.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss} at iteration {i + 1}; lower the learning rate or enable gradient clipping"
                )
            self.optim.step()
            losses.append(loss)
            if (i + 1) % sample_every == 0:
                recent = float(np.mean(losses[-window:]))
                start = int(np.argmax(y[0, -1]))  # the last target character of the first window
                text = self.sample_output(start, sample_length)
                self.samples.append((i + 1, text))
                message = f"iteration {i + 1}: loss {recent:.4f} (mean of the last {min(window, len(losses))})\n{text}"
                if print_fn is None:
                    pass
                elif bar.enabled and print_fn is print:
                    bar.message(message)  # prints without mangling the bar
                else:
                    print_fn(message)
            bar.update(i + 1, f"loss {loss:.4g}")
        bar.close()
        self.losses = losses
        return losses
