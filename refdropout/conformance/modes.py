"""Checks of spec/modes.md: the mode of a dropout layer nested inside a network.

A check builds a network from the capabilities ``dropout_module(p, *, seed)`` and
``sequential(*modules)``, drives its mode with ``train()`` and ``eval()`` on the outermost
module only, and reads what the nested layer did off the output: with x = 1 a kept element is
s (1/q inverted, 1 classic) and a dropped one 0. MODES-4, MODES-7 and MODES-9 are exact; MODES-8
makes one statistical decision. Once their fixed cases pass, the exact ones search generated
networks (``cases.module_cases``: x of any shape, declared format and values, p, seed, and 0 to
4 containers), judged as the fixed ones are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..contract import Implementation, eval_value, policies_of
from ..dtypes import float64, within_one_ulp
from ..random import Generator
from ..stats import binomial_test
from ..tensor import Tensor
from .cases import Case, module_cases, probabilities
from .dropout import _evaluation, _read_as_one
from .kit import identical, mismatch, nonzero, ones
from .registry import Context, check
from .sampling import ENGINE_WIDTH, calls
from .search import search
from .verdict import Verdict

__all__ = ["nest", "SIZE"]

NEEDS = ("dropout_module", "sequential")
SIZE = 256  # elements of an exact check: at p = 1/2 a correct layer keeps all (or drops all) w.p. 2^-256
DEPTH = 2  # a layer inside a container inside a container: the network the bugs were found in


def nest(impl: Implementation, layer: object, depth: int) -> object:
    """``layer`` held by ``depth`` containers, each the only child of the next."""
    for _ in range(depth):
        layer = impl.sequential(layer)
    return layer


def _nested_dropout(impl: Implementation, p: float, seed: int, depth: int = DEPTH) -> object:
    return nest(impl, impl.dropout_module(p, seed=seed), depth)


def _data(seed: int, n: int = SIZE) -> Tensor:
    """n float64 elements with |x_i| in [1, 2) and alternating signs: every one nonzero."""
    return Tensor.from_flat(nonzero(Generator(seed).uniform(n).data), (n,), float64)


def _classic(impl: Implementation) -> bool:
    return policies_of(impl).scaling == "classic"


def _differs(name: str, y: Tensor, expected: list[float]) -> list[str]:
    """A failure naming the first element where y is not ``expected`` (==, so -0 is 0 and NaN fails)."""
    if y.shape != (len(expected),):
        return [f"{name}: output of shape {y.shape}, expected ({len(expected)},)"]
    for i, (got, want) in enumerate(zip(y.data, expected)):
        if got != want:
            return [f"{name}: element {i} is {got!r}, expected {want!r}"]
    return []


def _judged(impl: Implementation, ctx: Context, judge: Callable[[Case, list], list[str]]) -> Callable[[Case], list]:
    """The judge of a generated network: ``judge(case, outputs)``, or no failure where the network raised at
    a p it reads as 1 and declares p_one = "refused" (as a layer may refuse p = 1 when made or called)."""

    def judged(case: Case) -> list[str]:
        try:
            outputs = case.called(impl)
        except Exception:  # a foreign implementation's error type is its own
            if _read_as_one(impl, case.p) and ctx.policy(impl, "p_one") == "refused":
                return []
            raise
        return judge(case, outputs)

    return judged


@check("MODES-4", needs=NEEDS)
def check_mode_reaches_nested_modules(impl: Implementation, ctx: Context) -> Verdict:
    """MODES-4: eval() and train() on the outermost module reach a dropout layer at depth 0 to 3; then
    generated networks: after train(), a call and eval(), the call is evaluation (x bit for bit, NaN and
    ±inf included, under inverted scaling; q x within one ulp under classic)."""
    x, all_ones = _data(ctx.seed), ones(SIZE)
    expected = [v / 2 for v in x.data] if _classic(impl) else x.data  # q = 1/2: classic eval is exact
    failures = []
    for depth in range(4):
        net = _nested_dropout(impl, 0.5, ctx.seed, depth)
        net.eval()
        failures += _differs(f"depth {depth}, after eval()", net(x), expected)
        net.train()
        if all(v != 0.0 for v in net(all_ones).data):
            failures.append(f"depth {depth}, after train(): no element of {SIZE} dropped at p = 0.5")
    if not failures:
        if _classic(impl):  # q x: q as the declared scale_format computes it
            ctx.policy(impl, "scale_format")
        failures = search(ctx, module_cases(impl, (True, False), nonfinite=not _classic(impl)), _judged(
            impl, ctx, lambda case, ys: _evaluation(impl, "y2, after eval()", case.x, case.p, ys[-1])))
    return ctx.verdict("MODES-4", failures)


def _p_zero_network(impl: Implementation, case: Case, ys: list) -> list[str]:
    """MODES-7's failures of a generated network's evaluation calls ys: each the first bit for bit, and
    the first the output of the network made alike at p = 0 in training (q times it within one ulp of
    x's format under classic scaling, q as the declared scale_format computes it)."""
    for k, y in enumerate(ys[1:], 2):
        failures = identical(f"y{k}, evaluation call {k}", y, ys[0], earlier="evaluation call 1")
        if failures:
            return failures
    (zero,) = replace(case, p=0.0, modes=(True,)).called(impl)
    if not _classic(impl):
        return identical("y1, evaluation call 1", ys[0], zero, earlier="the p = 0 network in training")
    dtype = case.dtype
    return mismatch("y1, evaluation call 1", ys[0], zero, lambda i, got, r: None if within_one_ulp(
        got, eval_value(policies_of(impl), r, case.p, dtype), dtype)
        else f"the p = 0 network giving {r!r}: not q times it within one ulp")


@check("MODES-7", needs=NEEDS)
def check_eval_is_the_p_zero_network(impl: Implementation, ctx: Context) -> Verdict:
    """MODES-7: three eval calls agree bit for bit and equal the p = 0 network (times q, classic); under
    p_one = "refused" the network at p = 1 may refuse, when it is made or when it is called. Then
    generated networks (p in [0, 1]; x of any shape, format and seed, NaN and ±inf included under
    inverted scaling)."""
    x = _data(ctx.seed)
    failures = []
    for p in (0.2, 0.7, 1.0):
        zero = _nested_dropout(impl, 0.0, ctx.seed)
        zero.train()
        reference = zero(x).data
        try:
            net = _nested_dropout(impl, p, ctx.seed)
            net.eval()
            outputs = [net(x) for _ in range(3)]
        except Exception:  # a foreign implementation's error type is its own
            if p == 1.0 and ctx.policy(impl, "p_one") == "refused":  # a pass then relies on the declaration
                continue
            raise
        for call, y in enumerate(outputs, 1):
            if call > 1 and y.data != outputs[0].data:
                failures.append(f"p = {p}: evaluation call {call} differs from call 1")
            elif _classic(impl):
                q = 1.0 - p
                wrong = [i for i, (got, r) in enumerate(zip(y.data, reference))
                         if not within_one_ulp(got, q * r, float64)]
                if y.shape != x.shape or wrong:
                    failures.append(f"p = {p}: evaluation call {call} is not q times the p = 0 network within one ulp")
            else:
                failures += _differs(f"p = {p}, evaluation call {call} against the p = 0 network", y, reference)
    if not failures:
        if _classic(impl):
            ctx.policy(impl, "scale_format")
        failures = search(ctx, module_cases(impl, (False, False, False), p=probabilities, nonfinite=not _classic(impl)),
                          _judged(impl, ctx, lambda case, ys: _p_zero_network(impl, case, ys)))
    return ctx.verdict("MODES-7", failures)


@check("MODES-8", needs=NEEDS, decisions=1)
def check_active_after_eval_round_trip(impl: Implementation, ctx: Context) -> Verdict:
    """MODES-8: after train(), eval(), eval(), train() the nested layer keeps at rate q (binomial)."""
    p, n = 0.3, ctx.plan.n
    x = _data(ctx.seed)
    net = _nested_dropout(impl, p, ctx.seed)
    net.train()
    net(x)
    net.eval()
    net.eval()
    net(x)
    net.train()
    kept = 0
    # successive calls of at most CHUNK // ENGINE_WIDTH elements: the layers take engine tensors (contract)
    for size, _ in calls(n, ctx.seed, width=ENGINE_WIDTH):
        y = net(ones(size)).data  # layers take engine tensors (contract); the zeros counted at C speed
        kept += len(y) - y.count(0.0)  # NaN != 0.0: kept, as everywhere
    decision = binomial_test(kept, n, 1.0 - p, alpha=ctx.alpha)
    ctx.decide("MODES-8 keep rate after train -> eval -> train", decision)
    failures = [] if not decision.reject else [
        f"keep rate {decision.observed:.5f} in the second training phase, expected q = {1.0 - p} "
        f"(p-value {decision.p_value:.3g})"
    ]
    return ctx.verdict("MODES-8", failures)


def _uninterrupted(impl: Implementation, case: Case, ys: list) -> list[str]:
    """MODES-9's failures of a generated network's calls ys (train, eval, eval, train): its training calls
    bit for bit those of a network made alike called twice in training."""
    first, second = replace(case, modes=(True, True)).called(impl)
    return (identical("y1, first training call", ys[0], first, earlier="a network made alike, its first call")
            or identical("y4, training call after two evaluation calls", ys[3], second,
                         earlier="a network made alike, its second training call"))


@check("MODES-9", needs=NEEDS)
def check_eval_consumes_no_randomness(impl: Implementation, ctx: Context) -> Verdict:
    """MODES-9: train, (eval, eval), train draws the masks of train, train, bit for bit; then generated
    networks (finite x of any shape, format and values; p in (0, 1); any seed)."""
    x = _data(ctx.seed)
    plain, interrupted = (_nested_dropout(impl, 0.5, ctx.seed) for _ in range(2))
    plain.train()
    interrupted.train()
    first, second = plain(x), plain(x)
    failures = _differs("first training call of two networks made with one seed", interrupted(x), first.data)
    interrupted.eval()
    interrupted(x)
    interrupted(x)
    interrupted.train()
    failures += _differs("training call after two evaluation calls", interrupted(x), second.data)
    if not failures:
        failures = search(ctx, module_cases(impl, (True, False, False, True)),
                          _judged(impl, ctx, lambda case, ys: _uninterrupted(impl, case, ys)))
    return ctx.verdict("MODES-9", failures)
