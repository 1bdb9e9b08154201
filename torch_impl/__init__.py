"""torch_impl: the book's components written the way PyTorch users write PyTorch.

Chapter 7's classes (``PyTorchLayer``, ``DenseLayer``, ``PyTorchModel``, ``PyTorchTrainer``) and a torch twin
of every ``scratch`` component, so that each pair can be compared in the parity tests: ``nn.Module``s in
torch's layouts (weight ``[out, in]``, bias ``[out]``), autograd for every gradient and ``torch.Generator``
for randomness. Every component works in float32 and float64 and on any device: tensors are created with
the input's (or the parameters') dtype and device. This package never imports ``scratch``.

Chapter 2's functions (linear regression and the one-hidden-layer network with autograd gradients)
are in ``torch_impl.regression`` and re-exported here.
"""

from .activations import Linear, ReLU, Sigmoid, Tanh
from .dropout import BookDropout
from .init import book_glorot_std, glorot_normal_, standard_normal_, torch_linear_init_
from .layers import Dense, DenseLayer, PyTorchLayer
from .losses import MeanSquaredError, SoftmaxCrossEntropy
from .model import PyTorchModel, SequentialModel
from .operations import BiasAdd, WeightMultiply
from .optim import DECAY_TYPES, BookSGDMomentum, book_lr_scheduler
from .regression import (
    LinearRegressionResult,
    OneHiddenLayerResult,
    forward_linear_regression,
    forward_loss_nn,
    init_linear_regression_weights,
    init_one_hidden_layer_weights,
    linear_regression_loss_gradients,
    mae,
    nn_loss_gradients,
    predict_linear_regression,
    predict_one_hidden_layer,
    rmse,
    train_linear_regression,
    train_one_hidden_layer,
)
from .train import PyTorchTrainer, TrainingHistory

__all__ = [
    "DECAY_TYPES",
    "BiasAdd",
    "BookDropout",
    "BookSGDMomentum",
    "Dense",
    "DenseLayer",
    "Linear",
    "LinearRegressionResult",
    "MeanSquaredError",
    "OneHiddenLayerResult",
    "PyTorchLayer",
    "PyTorchModel",
    "PyTorchTrainer",
    "ReLU",
    "SequentialModel",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "TrainingHistory",
    "WeightMultiply",
    "book_glorot_std",
    "book_lr_scheduler",
    "forward_linear_regression",
    "forward_loss_nn",
    "glorot_normal_",
    "init_linear_regression_weights",
    "init_one_hidden_layer_weights",
    "linear_regression_loss_gradients",
    "mae",
    "nn_loss_gradients",
    "predict_linear_regression",
    "predict_one_hidden_layer",
    "rmse",
    "standard_normal_",
    "torch_linear_init_",
    "train_linear_regression",
    "train_one_hidden_layer",
]
