"""torch_impl: the book's components written the way PyTorch users write PyTorch.

Chapter 7's classes (``PyTorchLayer``, ``DenseLayer``, ``PyTorchModel``, ``Trainer``, alias ``PyTorchTrainer``) and
a torch twin of every ``scratch`` component, so that each pair can be compared in the parity tests: ``nn.Module``s
in torch's layouts (weight ``[out, in]``, bias ``[out]``), autograd for every gradient and ``torch.Generator`` for
randomness. Every component works in float32 and float64 and on any device: tensors are created with the input's (or
the parameters') dtype and device. This package never imports ``scratch``.

Chapters 5 and 7 add convolutions (``Conv2D_Op``, ``ChannelBiasAdd``, ``ConvLayer``, ``Conv2D``), pooling,
``Flatten``/``Reshape``, chapter 7's ``MNISTConvNet`` and the torch MNIST pipeline (``MNISTDataset``,
torchvision-style transforms written here, ``mnist_loaders``); torchvision is optional.

Chapter 2's functions (linear regression and the one-hidden-layer network with autograd gradients)
are in ``torch_impl.linear_regression`` and ``torch_impl.one_hidden_layer`` (named like their scratch modules)
and re-exported here. ``torch_impl.book.ch7`` is chapter 7's notebook API on these components (the book's
names, tuple-returning models, trainers and random stream).
"""

from .activations import LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from .autoencoder import Autoencoder, Decoder, Encoder
from .conv import (
    CONV_WEIGHT_INITS,
    ChannelBiasAdd,
    Conv2D_Op,
    Conv2DOp,
    conv_glorot_std,
    conv_output_size,
    resolve_padding,
)
from .dropout import BookDropout, Dropout
from .init import book_glorot_std, glorot_normal_, standard_normal_, torch_linear_init_
from .layers import Conv2D, ConvLayer, DeconvLayer, Dense, DenseLayer, PyTorchLayer
from .linear_regression import (
    LinearRegressionResult,
    forward_linear_regression,
    init_linear_regression_weights,
    linear_regression_loss_gradients,
    mae,
    predict_linear_regression,
    rmse,
    train_linear_regression,
)
from .losses import MeanSquaredError, SoftmaxCrossEntropy
from .mnist import (
    Compose,
    MNISTDataset,
    Normalize,
    ToTensor,
    mnist_loaders,
    mnist_transforms,
    torchvision_available,
    transforms_backend,
)
from .network import MNISTConvNet, PyTorchModel, SequentialModel
from .one_hidden_layer import (
    OneHiddenLayerResult,
    forward_loss_nn,
    init_one_hidden_layer_weights,
    nn_loss_gradients,
    predict_one_hidden_layer,
    train_one_hidden_layer,
)
from .operations import BiasAdd, WeightMultiply
from .optimizers import (
    DECAY_TYPES,
    AdaGrad,
    BookAdaGrad,
    BookLRScheduler,
    BookSGDMomentum,
    SGDMomentum,
    book_lr_scheduler,
    clip_grads_,
)
from .pooling import AvgPool2D, MaxPool2D
from .reshape import Flatten, Reshape
from .rnn import GRULayer, LSTMLayer, ResetBeforeGRU, RNNLayer
from .rnn_model import (
    NextCharacterModel,
    NextCharacterTrainer,
    SequenceSoftmaxCrossEntropy,
    sample_text,
    sliding_window_batches,
)
from .train import PyTorchTrainer, Trainer, TrainingHistory, accuracy

__all__ = [
    "CONV_WEIGHT_INITS",
    "DECAY_TYPES",
    "AdaGrad",
    "Autoencoder",
    "AvgPool2D",
    "BiasAdd",
    "BookAdaGrad",
    "BookDropout",
    "BookLRScheduler",
    "BookSGDMomentum",
    "ChannelBiasAdd",
    "Compose",
    "Conv2D",
    "Conv2DOp",
    "Conv2D_Op",
    "ConvLayer",
    "Decoder",
    "DeconvLayer",
    "Dense",
    "DenseLayer",
    "Dropout",
    "Encoder",
    "Flatten",
    "GRULayer",
    "LSTMLayer",
    "LeakyReLU",
    "Linear",
    "LinearRegressionResult",
    "MNISTConvNet",
    "MNISTDataset",
    "MaxPool2D",
    "MeanSquaredError",
    "NextCharacterModel",
    "NextCharacterTrainer",
    "Normalize",
    "OneHiddenLayerResult",
    "PyTorchLayer",
    "PyTorchModel",
    "PyTorchTrainer",
    "RNNLayer",
    "ReLU",
    "ResetBeforeGRU",
    "Reshape",
    "SGDMomentum",
    "SequenceSoftmaxCrossEntropy",
    "SequentialModel",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "ToTensor",
    "Trainer",
    "TrainingHistory",
    "WeightMultiply",
    "accuracy",
    "book_glorot_std",
    "book_lr_scheduler",
    "clip_grads_",
    "conv_glorot_std",
    "conv_output_size",
    "forward_linear_regression",
    "forward_loss_nn",
    "glorot_normal_",
    "init_linear_regression_weights",
    "init_one_hidden_layer_weights",
    "linear_regression_loss_gradients",
    "mae",
    "mnist_loaders",
    "mnist_transforms",
    "nn_loss_gradients",
    "predict_linear_regression",
    "predict_one_hidden_layer",
    "resolve_padding",
    "rmse",
    "sample_text",
    "sliding_window_batches",
    "standard_normal_",
    "torch_linear_init_",
    "torchvision_available",
    "train_linear_regression",
    "train_one_hidden_layer",
    "transforms_backend",
]
