"""Coverage of the spec registry.

- Every public class of ``scratch`` and ``torch_impl`` (their ``__all__``) is run by a spec (its scratch class,
  its twin or a class it exercises, all named as class objects) or is in the ONE exemption table below, with
  the reason and the test file that runs it instead; an exemption is never also covered by a spec.
- Every class a spec names is public (in its package's ``__all__``; torch's own classes for the torch side).
- Every differentiable spec (results with ``grad:*`` keys) has a finite-difference oracle with at least one
  case, in every chapter; ``differentiable`` says what the spec's results really hold.

A new public class without a spec or an exemption fails ``test_every_public_class_has_a_spec_or_an_exemption``;
``test_a_new_public_class_without_a_spec_is_reported`` shows it with a monkeypatched ``__all__``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import scratch
import torch_impl
from parity_tests.harness import case_seed
from parity_tests.specs import ComponentSpec, TorchClass, all_specs, get_spec

TESTS = Path(__file__).resolve().parents[1]  # tests
PACKAGES = (scratch, torch_impl)
TORCH_NAMESPACES = ("torch", "torch.optim")  # torch's own classes may be a twin; they are not ours to cover


@dataclasses.dataclass(frozen=True)
class Exemption:
    """Why a public class has no spec. ``tested_in`` names the test files (under ``tests``) that
    run it, each mentioning ``by`` (the class's name unless given: the function that returns a record); an
    abstract base has no test file of its own: ``base=True`` requires a spec for one of its subclasses."""

    reason: str
    tested_in: tuple[str, ...] = ()
    by: str = ""
    base: bool = False


#: The one exemption table: every public class without a spec, with its reason.
EXEMPT: dict[type, Exemption] = {
    # abstract bases: the concrete classes have specs
    scratch.Operation: Exemption("the base of every operation (forward/backward/_output/_input_grad)", base=True),
    scratch.ParamOperation: Exemption("the base of the operations with a parameter", base=True),
    scratch.Layer: Exemption("the base of Dense and Conv2D (operations, params, setup)", base=True),
    scratch.Loss: Exemption("the base of the losses", base=True),
    torch_impl.PyTorchLayer: Exemption("chapter 7's abstract layer (forward(x, inference))", base=True),
    torch_impl.PyTorchModel: Exemption("chapter 7's abstract model", base=True),
    # result records: compared through what returns them
    scratch.GradCheckResult: Exemption(
        "the finite-difference oracle's record", ("scratch/test_fd_oracle.py",), by="fd_check"
    ),
    torch_impl.LinearRegressionResult: Exemption(
        "chapter 2's result tuple (functions, not components)",
        ("parity/test_ch2_parity.py",),
        by="train_linear_regression",
    ),
    torch_impl.OneHiddenLayerResult: Exemption(
        "chapter 2's result tuple (functions, not components)",
        ("parity/test_ch2_parity.py",),
        by="train_one_hidden_layer",
    ),
    # the readable per-step recurrent nodes: no torch twin (nn.RNN/LSTM/GRU have no step object)
    scratch.RNNNode: Exemption(
        "one time step of RNNLayer, checked against the layer", ("scratch/test_rnn_scratch.py",)
    ),
    scratch.LSTMNode: Exemption(
        "one time step of LSTMLayer, checked against the layer", ("scratch/test_rnn_scratch.py",)
    ),
    scratch.GRUNode: Exemption(
        "one time step of GRULayer, checked against the layer", ("scratch/test_rnn_scratch.py",)
    ),
    # loops and models whose parity is the book's printed output, not a twin's
    scratch.RNNTrainer: Exemption(
        "chapter 6's sampling trainer (windows, text sampling); RNNModelTraining covers its steps",
        ("scratch/test_rnn_model_scratch.py", "scratch/test_book_ch6.py"),
    ),
    torch_impl.NextCharacterModel: Exemption(
        "chapter 7's character LSTM (an LSTMLayer, which has a spec, in the book's [N, V, T] layout)",
        ("parity/test_torch_rnn_unit.py", "parity/test_book_ch7.py"),
    ),
    torch_impl.NextCharacterTrainer: Exemption(
        "chapter 7's character-model trainer", ("parity/test_torch_rnn_unit.py", "parity/test_book_ch7.py")
    ),
    torch_impl.MNISTConvNet: Exemption(
        "chapter 7's MNIST network (ConvLayer/DenseLayer, both run by specs)",
        ("parity/test_torch_conv_unit.py", "parity/test_ch7_checkpoints.py"),
    ),
    torch_impl.DeconvLayer: Exemption("chapter 7's layer with no scratch counterpart", ("parity/test_book_ch7.py",)),
    # the torch MNIST pipeline: data, not a component
    torch_impl.MNISTDataset: Exemption("the torch MNIST dataset", ("parity/test_torch_conv_unit.py",)),
    torch_impl.Compose: Exemption("a torchvision-style transform", ("parity/test_torch_conv_unit.py",)),
    torch_impl.Normalize: Exemption("a torchvision-style transform", ("parity/test_torch_conv_unit.py",)),
    torch_impl.ToTensor: Exemption("a torchvision-style transform", ("parity/test_torch_conv_unit.py",)),
}


def public_classes(package: ModuleType) -> list[type]:
    """The classes among ``package.__all__``."""
    objects = (getattr(package, name) for name in package.__all__)
    return [obj for obj in objects if isinstance(obj, type)]


def spec_classes(specs: Iterable[ComponentSpec]) -> dict[type, list[str]]:
    """Every class the specs run (resolved), with the names of the specs that run it."""
    covered: dict[type, list[str]] = {}
    for spec in specs:
        for cls in spec.classes():
            resolved = cls.resolve() if isinstance(cls, TorchClass) else cls
            covered.setdefault(resolved, []).append(spec.name)
    return covered


def uncovered(packages: Iterable[ModuleType] = PACKAGES) -> list[str]:
    """``package.Name`` of every public class with neither a spec nor an exemption."""
    covered = spec_classes(all_specs())
    return [
        f"{package.__name__}.{cls.__name__}"
        for package in packages
        for cls in public_classes(package)
        if cls not in covered and cls not in EXEMPT
    ]


def missing_fd(specs: Iterable[ComponentSpec]) -> list[str]:
    """The differentiable specs without a finite-difference oracle or without a case it runs on."""
    return [f"{s.name} (chapter {s.chapter})" for s in specs if s.differentiable and not s.fd_cases()]


# ---------------------------------------------------------------------------------------------------------
# Every public class
# ---------------------------------------------------------------------------------------------------------


def test_every_public_class_has_a_spec_or_an_exemption() -> None:
    missing = uncovered()
    assert not missing, (
        f"public classes without a spec: {missing}. Add a spec module in parity_tests/specs naming the class "
        "(scratch_class / torch_class / exercises), or an entry with its reason in EXEMPT"
    )


def test_a_new_public_class_without_a_spec_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    class Softplus:  # a component someone added and exported, but never specified
        pass

    monkeypatch.setattr(scratch, "Softplus", Softplus, raising=False)
    monkeypatch.setattr(scratch, "__all__", [*scratch.__all__, "Softplus"])
    assert uncovered() == ["scratch.Softplus"]
    monkeypatch.setitem(EXEMPT, Softplus, Exemption("a test stand-in", base=True))
    assert uncovered() == []


def test_exemptions_are_public_and_not_also_specified() -> None:
    public = {cls for package in PACKAGES for cls in public_classes(package)}
    covered = spec_classes(all_specs())
    stale = [cls.__qualname__ for cls in EXEMPT if cls not in public]
    assert not stale, f"exempt classes that are not public any more: {stale}"
    both = {cls.__qualname__: covered[cls] for cls in EXEMPT if cls in covered}
    assert not both, f"classes both exempt and run by specs (remove the exemption): {both}"


@pytest.mark.parametrize("cls", list(EXEMPT), ids=lambda c: f"{c.__module__.split('.')[0]}.{c.__name__}")
def test_each_exemption_names_what_tests_the_class(cls: type) -> None:
    exemption = EXEMPT[cls]
    assert exemption.reason.strip()
    if exemption.base:
        covered = spec_classes(all_specs())
        assert any(issubclass(c, cls) and c is not cls for c in covered), f"no spec runs a subclass of {cls}"
        return
    assert exemption.tested_in, f"{cls.__name__}: an exemption names the test files that run the class"
    for name in exemption.tested_in:
        path = TESTS / name
        assert path.is_file(), f"{cls.__name__}: {name} does not exist"
        assert (exemption.by or cls.__name__) in path.read_text(encoding="utf-8"), f"{name} never runs {cls}"


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_spec_classes_are_public_classes(spec: ComponentSpec) -> None:
    if spec.scratch_class is not None:
        assert spec.scratch_class in public_classes(scratch), f"{spec.scratch_class} is not in scratch.__all__"
    for cls in spec.classes():
        if isinstance(cls, TorchClass):
            resolved = cls.resolve()
            ours = cls.module.split(".")[0] == "torch_impl"
            assert resolved in public_classes(torch_impl) if ours else cls.module in TORCH_NAMESPACES, cls
        else:
            assert cls in public_classes(scratch), f"{spec.name} exercises {cls}, which scratch does not export"
    if spec.scratch_class is None or spec.torch_class is None:
        assert spec.no_class.strip()


# ---------------------------------------------------------------------------------------------------------
# Finite differences for every differentiable spec
# ---------------------------------------------------------------------------------------------------------

CHAPTERS = sorted({s.chapter for s in all_specs()})


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_differentiable_spec_has_a_finite_difference_oracle(chapter: int) -> None:
    missing = missing_fd(s for s in all_specs() if s.chapter == chapter)
    assert not missing, f"differentiable specs without a central-differences oracle: {missing}"


def test_a_differentiable_spec_without_an_oracle_is_reported() -> None:
    relu = get_spec("ReLU")
    assert missing_fd([relu]) == []
    assert missing_fd([dataclasses.replace(relu, fd_check=None)]) == ["ReLU (chapter 3)"]


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_differentiable_matches_the_results(spec: ComponentSpec) -> None:
    """A spec is differentiable exactly when its results hold gradients (scratch side, first case)."""
    case = spec.cases[0]
    problem = spec.make_problem(case, np.random.default_rng(case_seed(spec.name, case.name)), np.dtype("float64"))
    has_grads = any(key.startswith("grad:") for key in spec.run_scratch(problem))
    assert has_grads == spec.differentiable, f"{spec.name}: differentiable={spec.differentiable}"
