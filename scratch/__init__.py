"""scratch: the book's components from first principles, in NumPy only.

Every public name of "Deep Learning from Scratch" (Weidman, 2019) that the book's code imports is
available here with the book's constructor arguments and array layouts, so code written the way the book
writes it runs unchanged. Where the book's code is wrong (see docs/porting-guide.md, "Errata") this
package is mathematically correct. This package never imports torch.
"""

from .activations import Linear, ReLU, Sigmoid, Tanh
from .base import Operation, ParamOperation
from .dropout import Dropout
from .gradcheck import GradCheckResult, check_gradients, check_loss_gradient
from .layers import Dense, Layer
from .losses import Loss, MeanSquaredError, SoftmaxCrossEntropy
from .network import NeuralNetwork
from .operations import BiasAdd, WeightMultiply
from .optimizers import SGD, Optimizer, SGDMomentum
from .train import Trainer, TrainingHistory

__all__ = [
    "SGD",
    "BiasAdd",
    "Dense",
    "Dropout",
    "GradCheckResult",
    "Layer",
    "Linear",
    "Loss",
    "MeanSquaredError",
    "NeuralNetwork",
    "Operation",
    "Optimizer",
    "ParamOperation",
    "ReLU",
    "SGDMomentum",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "Trainer",
    "TrainingHistory",
    "WeightMultiply",
    "check_gradients",
    "check_loss_gradient",
]
