"""Sequence predictors for dynamical systems: attention, memory and recurrent models with one interface.

``model = Model(input_dim=D, exog_dim=E)``; ``prediction, attention = model(history, horizon, exog=None)`` (see
:mod:`controllers.predictors.base`): :class:`LSTMSeq2Seq` (baseline), :class:`AttentionSeq2Seq` (additive,
cosine or dot scores), :class:`DARNN` (dual-stage input and temporal attention), :class:`MemoryNetwork` (an
end-to-end memory network over past states) and :class:`CausalTransformer`; :class:`HybridModel` puts a learned
history-dependent force inside a diffsim simulator. :func:`fit` trains any of them on windows cut by
:func:`windows`; :func:`predict` runs one in evaluation mode.
"""
from controllers.predictors.attention import AttentionSeq2Seq
from controllers.predictors.base import Predictor
from controllers.predictors.darnn import DARNN
from controllers.predictors.data import windows
from controllers.predictors.fit import fit, predict
from controllers.predictors.hybrid import HybridModel
from controllers.predictors.lstm import LSTMSeq2Seq
from controllers.predictors.memory import MemoryNetwork
from controllers.predictors.transformer import CausalTransformer

MODELS = {"lstm": LSTMSeq2Seq, "attention": AttentionSeq2Seq, "darnn": DARNN, "memory": MemoryNetwork,
          "transformer": CausalTransformer}

__all__ = ["Predictor", "LSTMSeq2Seq", "AttentionSeq2Seq", "DARNN", "MemoryNetwork", "CausalTransformer",
           "HybridModel", "MODELS", "fit", "predict", "windows"]
