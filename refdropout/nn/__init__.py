"""The network layer: modules with a training/inference mode (spec/modes.md)."""

from .dropout import (
    AlphaDropout,
    AttentionDropout,
    ChannelDropout,
    DropBlock2d,
    DropConnectLinear,
    Dropout,
    Dropout1d,
    Dropout2d,
    Dropout3d,
    DropPath,
    FeatureAlphaDropout,
    GaussianDropout,
)
from .layers import ELU, SELU, Activation, Linear, ReLU, Sequential, Sigmoid, Softmax, Tanh
from .mc import MCPrediction, mc_predict
from .mlp import MLP
from .modes import get_learning_phase, learning_phase, set_learning_phase
from .module import Module
from .normalization import BatchNorm1d
from .recurrent import GRU, LSTM, RecurrentLayer, RecurrentMasks
from .rnn_cells import GRUCell, LSTMCell, RecurrentCell

__all__ = [
    "Module", "Linear", "Sequential", "Activation", "ReLU", "Tanh", "Sigmoid", "ELU", "SELU", "Softmax", "MLP",
    "BatchNorm1d",
    "MCPrediction", "mc_predict",
    "LSTMCell", "GRUCell", "RecurrentCell", "LSTM", "GRU", "RecurrentLayer", "RecurrentMasks",
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "ChannelDropout", "AlphaDropout", "FeatureAlphaDropout",
    "GaussianDropout", "DropPath", "DropBlock2d", "AttentionDropout", "DropConnectLinear",
    "learning_phase", "set_learning_phase", "get_learning_phase",
]
