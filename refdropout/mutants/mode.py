"""Mutants of the kind "mode": a dropout layer or container whose training/evaluation mode goes
wrong (spec/modes.md, and Monte Carlo dropout of spec/ensemble.md). Each is the reference network
with one module replaced, reached through the capabilities ``dropout_module`` and ``sequential``
that the MODES checks build from (``mc_predict`` for Monte Carlo dropout).
"""

from __future__ import annotations

from ..adapters.reference import ReferenceDropout, model_of
from ..nn import Dropout, Module, Sequential
from ..nn.mc import MCPrediction, mc_moments, mc_predict
from ..random import Generator
from ..tensor import Tensor
from ..theory import Network
from .narrowed import reference_with
from .registry import mutant

__all__ = [
    "ContainerModeNotRecursive", "EvalAdvancesGenerator", "InactiveInTraining", "MCPassesInEvalMode",
    "MCSwitchesEveryModule", "ModuleActiveInEval", "NormalisedWithPasses", "TrainDoesNotRecurse",
]

Modes = reference_with("dropout_module", "sequential")


class _AlwaysTraining(Dropout):
    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        return super().forward(x, training=True)


@mutant("mode", models="pytorch/pytorch#26338: Behavior of F.dropout in eval mode", caught_by=("MODES-4", "MODES-7"))
class ModuleActiveInEval(Modes):
    """The dropout layer ignores its mode and drops in evaluation too (F.dropout called without
    training=self.training)."""

    name = "module-active-in-eval"

    def dropout_module(self, p: float, *, seed: int) -> Dropout:
        return _AlwaysTraining(p, seed=seed, **self.policy_options())


class _NeverTraining(Dropout):
    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        return super().forward(x, training=False)


@mutant("mode", models="google-research/vision_transformer#19: dropout is always inactive in the training?",
        caught_by=("MODES-4", "MODES-8"))
class InactiveInTraining(Modes):
    """The dropout layer ignores its mode and never drops (its train flag is hard-coded to False)."""

    name = "inactive-in-training"

    def dropout_module(self, p: float, *, seed: int) -> Dropout:
        return _NeverTraining(p, seed=seed, **self.policy_options())


class _ShallowSequential(Sequential):
    def train(self, mode: bool = True) -> Sequential:
        object.__setattr__(self, "training", mode)  # its own flag only
        return self


@mutant("mode", models="dotnet/TorchSharp#549: The dropout layer is not disabled after setting the Module to Eval.",
        caught_by=("MODES-4", "MODES-7", "MODES-9"))
class ContainerModeNotRecursive(Modes):
    """train() and eval() of a container set its own flag and not its children's."""

    name = "container-mode-not-recursive"

    def sequential(self, *modules: Module) -> Sequential:
        return _ShallowSequential(*modules)


class _TrainOnlyHere(Sequential):
    def train(self, mode: bool = True) -> Sequential:
        if not mode:
            return super().train(False)
        object.__setattr__(self, "training", True)
        return self


@mutant("mode", models="pytorch/tutorials#1624: [quickstart_tutorial] why model.eval() in not turn off at training "
        "stage", caught_by=("MODES-4", "MODES-8"))
class TrainDoesNotRecurse(Modes):
    """A container's eval() reaches its children but its train() does not: dropout stays off after
    an eval round trip.

    Generalises the report, a training loop that never calls train() after eval(), to a
    train() that is called but stops at the container.
    """

    name = "train-does-not-recurse"

    def sequential(self, *modules: Module) -> Sequential:
        return _TrainOnlyHere(*modules)


class _DrawsInEval(Dropout):
    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        drawn = super().forward(x, training=True)  # computed whatever the mode, then discarded
        return drawn if training else super().forward(x, training=False)


@mutant("mode", models="apache/mxnet#16705: Dropout inconsistency bug", caught_by=("MODES-9",))
class EvalAdvancesGenerator(Modes):
    """An evaluation call draws a mask it does not use, shifting the training calls' masks."""

    name = "eval-advances-generator"

    def dropout_module(self, p: float, *, seed: int) -> Dropout:
        return _DrawsInEval(p, seed=seed, **self.policy_options())


MonteCarlo = reference_with("mc_predict")


class _InEvalMode(Module):
    """A model called in evaluation mode whatever mode its caller asks for."""

    def __init__(self, model: Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        return self.model(x, training=False)


@mutant("mode", models="TiagoCortinhal/SalsaNext#40: Set dropout to training in monte-carlo mode while inference",
        caught_by=("ENSEMBLE-9",))
class MCPassesInEvalMode(MonteCarlo):
    """The Monte Carlo passes run in evaluation mode (model.eval() before predicting): every pass is
    the same deterministic network, so the predictive variance is 0."""

    name = "mc-passes-in-eval-mode"

    def mc_predict(self, network: Network, p: float, x: Tensor, samples: int, *, seed: int) -> MCPrediction:
        return mc_predict(_InEvalMode(model_of(network, p, **self.policy_options())), x, samples, seed)


class NormalisedWithPasses(ReferenceDropout):
    """The reference's normalised Monte Carlo model (a batch normalisation after its first layer), its
    passes made by ``passes(model, x, samples, seed)`` (ENSEMBLE-10)."""

    def passes(self, model: Sequential, x: Tensor, samples: int, seed: int) -> MCPrediction:
        raise NotImplementedError

    def mc_predict_normalised(self, network: Network, p: float, x: Tensor, samples: int, *, seed: int,
                              running_mean: list[float], running_var: list[float]) -> tuple:
        model, norm = self.normalised_model(network, p, running_mean, running_var)
        return (*self.passes(model, x, samples, seed), norm.running_mean, norm.running_var)


@mutant("mode", models="SeldonIO/alibi-detect#232: For regressor-uncertainty detectors only put dropout layers of "
        "tensorflow models in train mode", caught_by=("ENSEMBLE-10",))
class MCSwitchesEveryModule(NormalisedWithPasses):
    """"training=True at inference" (keras-team/keras#9412, PyTorch's model.train()): every pass is
    model(x, training=True), so the batch normalisation runs on each batch's moments and moves its
    running statistics (the reference's mc_predict before ENSEMBLE-10)."""

    name = "mc-switches-every-module"

    def passes(self, model: Sequential, x: Tensor, samples: int, seed: int) -> MCPrediction:
        random = [m for m in model.modules() if isinstance(getattr(m, "generator", None), Generator)]
        for j, module in enumerate(random):
            module.generator = Generator(seed).fold_in(j)
        return mc_moments([model(x, training=True) for _ in range(samples)])
