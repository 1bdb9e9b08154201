"""scratch: the book's components from first principles, in NumPy only.

Every public name of "Deep Learning from Scratch" (Weidman, 2019) that the book's code imports is
available here with the book's constructor arguments and array layouts, so code written the way the book
writes it runs unchanged. Where the book's code is wrong (see docs/porting-guide.md, "Errata") this
package is mathematically correct. This package never imports torch.
"""

from . import fundamentals, linear_regression, metrics, one_hidden_layer
from .activations import LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from .autodiff import NumberWithGrad, Tensor
from .autoencoder import Autoencoder, Decoder, Encoder
from .base import Operation, ParamOperation
from .conv import ChannelBiasAdd, Conv2D_Op, Conv2D_OpLoop, conv_output_size, conv_pads
from .dropout import Dropout
from .fundamentals import *  # noqa: F403 - the chapter 1 functions: fundamentals.__all__, added to __all__ below
from .gradcheck import GradCheckResult, check_gradients, check_loss_gradient
from .layers import Conv2D, Dense, Layer
from .linear_regression import forward_linear_regression, generate_batch, permute_data
from .losses import Loss, MeanSquaredError, SoftmaxCrossEntropy
from .metrics import mae, rmse
from .network import NeuralNetwork
from .one_hidden_layer import forward_loss
from .operations import BiasAdd, WeightMultiply
from .optimizers import SGD, AdaGrad, Adam, Optimizer, SGDMomentum
from .pooling import AvgPool2D, MaxPool2D
from .reshape import Flatten, Reshape
from .rnn import GRULayer, GRUNode, LSTMLayer, LSTMNode, RNNLayer, RNNNode
from .rnn_model import RNNModel, RNNTrainer, SequenceSoftmaxCrossEntropy, moving_average
from .train import Trainer, TrainingHistory

__all__ = [
    "SGD",
    "AdaGrad",
    "Adam",
    "Autoencoder",
    "AvgPool2D",
    "BiasAdd",
    "ChannelBiasAdd",
    "Conv2D",
    "Conv2D_Op",
    "Conv2D_OpLoop",
    "Decoder",
    "Dense",
    "Dropout",
    "Encoder",
    "Flatten",
    "GRULayer",
    "GRUNode",
    "GradCheckResult",
    "LSTMLayer",
    "LSTMNode",
    "Layer",
    "LeakyReLU",
    "Linear",
    "Loss",
    "MaxPool2D",
    "MeanSquaredError",
    "NeuralNetwork",
    "NumberWithGrad",
    "Operation",
    "Optimizer",
    "ParamOperation",
    "RNNLayer",
    "RNNModel",
    "RNNNode",
    "RNNTrainer",
    "ReLU",
    "Reshape",
    "SGDMomentum",
    "SequenceSoftmaxCrossEntropy",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "Tensor",
    "Trainer",
    "TrainingHistory",
    "WeightMultiply",
    "check_gradients",
    "check_loss_gradient",
    "conv_output_size",
    "conv_pads",
    "forward_linear_regression",
    "forward_loss",
    "fundamentals",
    "generate_batch",
    "linear_regression",
    "mae",
    "metrics",
    "moving_average",
    "one_hidden_layer",
    "permute_data",
    "rmse",
]
__all__ += fundamentals.__all__
