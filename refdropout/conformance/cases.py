"""The cases of the exact clauses, drawn by Hypothesis (issue 16 §1; spec/runner.md, "Generated cases").

A :class:`Case` is one call of an implementation: a floating format, a shape, p, a seed, the mode
and x's values. The strategies here draw them over the whole input space, not one slice of it:

* ``formats(impl)`` — every floating format the implementation declares;
* :func:`shapes` — 0-d, one element, empty, sizes around vector widths (1 to 67, primes,
  2^k - 1, 2^k, 2^k + 1 up to 2^10 + 1) and 2- to 5-axis shapes, at most MAX_ELEMENTS elements,
  each rank at least SHAPE_SPREAD of the random cases a search draws (measured over 2,000 cases of
  DROPOUT-2's and of EXACT-1's strategies: 0-d 19.4/5.0%, one axis 27.8/13.4%, two axes 13.4/9.8%,
  3 to 5 axes 12.3-28.9% each; empty 7-14%; a size not a multiple of 2, 8, 64 in 35-47%, 53-66%,
  72-81% of the cases; four 5-axis shapes in five neither empty nor a line);
* :data:`rates` (p in (0, 1)) and :data:`probabilities` (p in [0, 1]) — ordinary values and the
  extremes: 5e-324, 1e-7, nextafter(1, 0) and values that round differently in float32, float16
  and bfloat16 (SPECIAL_RATES);
* :data:`seeds` — any seed in [0, 2^64), the edges of 32- and 64-bit integers often
  (SPECIAL_SEEDS);
* :func:`values` — a format's values: ±0, subnormals, the least normal, ±1, the largest finite
  value and, where a clause allows them, NaN and ±inf, besides any value of the format.
* :class:`Stratum` — what every search tries once its random cases pass: each special seed once, and
  each extreme rate (EXTREME_RATES) in each declared format, on ordinary cases of the clause's own
  strategy, drawn from the clause's seed (:func:`.search.stratum`).

x's values are a small palette laid out by a seeded shuffle (:func:`layout`), so that a case of
a thousand elements costs Hypothesis a few draws and shrinks to a few values. A case prints as a
runnable snippet (:meth:`Case.snippet`): run with ``impl`` bound to the implementation, it makes
the call again. The project's own tests draw from the same strategies (tests/helpers.py).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from functools import cache, cached_property

import numpy as np
from hypothesis import strategies as st

from ..contract import Implementation, dtypes_of
from ..contract.arrays import NUMPY_FORMATS
from ..dtypes import DType
from ..tensor import Tensor

__all__ = ["MAX_ELEMENTS", "NONFINITE", "SIZES", "SPECIAL_RATES", "SPECIAL_SEEDS", "STREAM_MODES", "Case", "cases",
           "formats", "layout", "CORNER_RATE", "corners", "module_cases", "noise_cases", "noise_corners",
           "OVERFLOW_CORNERS", "overflow_corners",
           "probabilities", "rates", "seeds", "shapes", "special_values", "values", "with_rates"]

MAX_ELEMENTS = 2**10 + 1  # a case stays cheap for a pure-Python implementation (a few milliseconds)
_WIDTHS = {n for k in range(1, 11) for n in (2**k - 1, 2**k, 2**k + 1)}  # around vector widths up to 2^10
_PRIMES = (71, 73, 97, 101, 127, 131, 251, 257, 509, 521, 1021)
SIZES = tuple(sorted({*range(68), *_WIDTHS, *_PRIMES}))  # elements of a 1-axis case, 0 (empty) first
_AXIS = (1, 2, 3, 4, 5, 7, 8, 9, 16, 17)  # an axis of a 2- to 5-axis case: simplest first
_AXIS_OR_EMPTY = (*_AXIS, 0)  # an axis of a variant's layout or a DropConnect batch: 0 (empty) last

SPECIAL_SEEDS = (0, 1, 2, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**63 - 1, 2**63, 2**64 - 1)
ORDINARY_RATES = (0.1, 0.3, 0.5, 0.7, 1 / 3)  # both outcomes likely, and inexact in every format
EXTREME_RATES = (
    5e-324, 1e-300, 1e-7, 2**-24, 2**-25, 6e-8,  # tiny: q rounds to 1 in binary64 / binary32 / float16
    0.999, 1 - 2**-9, 1 - 2**-12, 1 - 2**-25,  # 1 in bfloat16 / float16 / binary32, but not in binary64
    math.nextafter(1.0, 0.0),  # the largest p below 1: q = 2^-53
)
SPECIAL_RATES = ORDINARY_RATES + EXTREME_RATES


# ---- drawing a stratum's base cases: a format fixed by its index, the rates drawn recorded ------------


@dataclass
class _Drawing:
    """What the strategies do while a search draws its stratum's base cases (:meth:`Stratum.format`): draw the
    ``format``-th declared format (noting in ``missed`` an index past them), and record in ``rates`` each
    p that :data:`rates` gives."""

    format: int
    missed: bool = False
    rates: list[float] = field(default_factory=list)


_DRAWING: ContextVar[_Drawing | None] = ContextVar("refdropout_drawing", default=None)


@st.composite
def _recorded_rate(draw: st.DrawFn, drawn: st.SearchStrategy[float]) -> float:
    p = draw(drawn)
    if (current := _DRAWING.get()) is not None:
        current.rates.append(p)
    return p


# the special values two times in three: a bug that lives at one of them is found in a few cases
seeds = st.one_of(*[st.sampled_from(SPECIAL_SEEDS)] * 2, st.integers(0, 2**64 - 1))  # every seed a call must accept
rates = _recorded_rate(st.one_of(*[st.sampled_from(SPECIAL_RATES)] * 2,
                                 st.floats(0.0, 1.0, exclude_min=True, exclude_max=True)))


@st.composite
def _with_rates(draw: st.DrawFn, strategy: st.SearchStrategy[float]) -> float:
    return draw(rates if _DRAWING.get() is not None else strategy)


def with_rates(*others: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    """p from ``others`` or :data:`rates` (``st.one_of(*others, rates)``), except while a search draws its
    stratum's base cases (:class:`Stratum`): then from :data:`rates` alone, so that their p is free."""
    return _with_rates(st.one_of(*others, rates))


probabilities = with_rates(st.sampled_from((0.0, 1.0)))  # p in [0, 1], the endpoints included


# Each strategy below is built once per argument and kept (functools.cache): a case draws a dozen of
# them, and a strategy Hypothesis has not seen costs it a validation, where a kept one costs nothing.
# The draws are the same either way.


def formats(impl: Implementation) -> st.SearchStrategy[DType]:
    """Every floating format ``impl`` declares (its dtypes)."""
    return _format_or_pin(tuple(dtypes_of(impl)))


@cache
def _sampled(elements: tuple) -> st.SearchStrategy:
    return st.sampled_from(elements)


@cache
def _format_or_pin(dtypes: tuple[DType, ...]) -> st.SearchStrategy[DType]:
    return _format_drawn_or_pinned(dtypes)


@st.composite
def _format_drawn_or_pinned(draw: st.DrawFn, dtypes: tuple[DType, ...]) -> DType:
    current = _DRAWING.get()
    if current is None:
        return draw(_sampled(dtypes))
    if current.format >= len(dtypes):
        current.missed = True
        return dtypes[-1]
    return dtypes[current.format]


# The shapes' spread (spec/runner.md, RUNNER-18), measured over the random cases a check's search draws (2,000
# cases: 20 clause seeds x 100; tests/test_dropout.py keeps the minima): each rank is drawn at least
# SHAPE_SPREAD[rank] of the time; a multi-axis shape is empty (one axis 0) one time in EMPTY_IN.
# nominally 1/20 0-d, 7/20 one axis, 3/20 each of 2 to 5 axes
_RANKS = (0, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 1, 1, 1)
SHAPE_SPREAD = {0: 0.04, 1: 0.12, 2: 0.08, 3: 0.1, 4: 0.1, 5: 0.1}
EMPTY_IN = 8
_EMPTY = (False,) * (EMPTY_IN - 1) + (True,)


@st.composite
def _shaped(draw: st.DrawFn, max_elements: int) -> tuple[int, ...]:
    """A rank of _RANKS; one axis a size of SIZES; 2 to 5 axes each of _AXIS, at most ``max_elements``
    elements in all (an axis that would pass it the largest size of _AXIS that does not), and one of
    them 0 one time in EMPTY_IN. Each axis is one choice among all of _AXIS whatever the axes before it,
    so that Hypothesis shrinks the axes one by one (a choice among the sizes that fit, which the axes
    before it decide, left a 5-axis case at (2, 16, 17, 1, 1) where (1, 1, 1, 1, 1) fails as well)."""
    rank = draw(_sampled(_RANKS))
    if rank < 2:
        return (draw(_sampled(tuple(n for n in SIZES if n <= max_elements))),) if rank else ()
    shape: list[int] = []
    for _ in range(rank):
        room = max_elements // max(math.prod(shape), 1)
        size = draw(_sampled(_AXIS))
        shape.append(max(n for n in _AXIS if n <= min(size, room)))
    if draw(_sampled(_EMPTY)):
        shape[draw(st.integers(0, rank - 1))] = 0
    return tuple(shape)


@cache
def shapes(max_elements: int = MAX_ELEMENTS) -> st.SearchStrategy[tuple[int, ...]]:
    """0-d (shrinks to it), one axis of a size of SIZES, or 2 to 5 axes of sizes of _AXIS (one in
    EMPTY_IN of them empty), at most ``max_elements`` elements: each rank drawn at least SHAPE_SPREAD
    of the time."""
    return _shaped(max_elements)


NONFINITE = (math.nan, math.inf, -math.inf)
STREAM_MODES = (True, False, True, True)  # a dropout_stream case's calls: training, evaluation between


def special_values(dtype: DType) -> tuple[float, ...]:
    """±0, ±1, ±the least subnormal, the largest subnormal, ±the least normal and ±the largest finite
    value of ``dtype``."""
    normal = math.ldexp(1.0, dtype.emin)
    return (0.0, -0.0, 1.0, -1.0, dtype.tiny, -dtype.tiny, normal - dtype.tiny, normal, -normal, dtype.max, -dtype.max)


@cache
def values(dtype: DType, *, nonfinite: bool) -> st.SearchStrategy[float]:
    """Values of ``dtype``: its special values, or any finite float rounded to it; where ``nonfinite``,
    NaN, inf or -inf one time in three."""
    finite = [st.sampled_from(special_values(dtype)), st.floats(-dtype.max, dtype.max).map(dtype.round)]
    return st.one_of(*finite, *([st.sampled_from(NONFINITE)] if nonfinite else []))


def layout(palette: tuple[float, ...], order: int, n: int) -> list[float]:
    """n values, each drawn from ``palette`` by random.Random(order) (the palette's first value
    everywhere for order 0, where a palette of one value shrinks to)."""
    if order == 0:
        return [palette[0]] * n
    return random.Random(order).choices(palette, k=n)


def _literal(v: float) -> str:
    return repr(v) if math.isfinite(v) else f"float('{v}')"


@dataclass(frozen=True)
class Case:
    """One call: ``x`` of ``shape`` in ``dtype``, its values ``layout(palette, order, size)``; p,
    seed, training; ``capability`` the call (``dropout``, ``dropout_with_mask``,
    ``dropout_noise_shape`` with ``noise_shape``, ``dropout_vjp`` with the upstream gradient g,
    its values ``layout(gradient, order, size)``, ``dropout_stream``: a stream of the seed called on x in
    the modes of STREAM_MODES, or ``dropout_module``: the layer held by ``depth`` containers of
    ``sequential``, called once for each of ``modes``, True after ``train()`` and False after ``eval()``)."""

    dtype: DType
    shape: tuple[int, ...]
    p: float
    seed: int
    palette: tuple[float, ...] = (1.0,)
    order: int = 0
    training: bool = True
    capability: str = "dropout"
    noise_shape: tuple[int | None, ...] | None = field(default=None)
    gradient: tuple[float, ...] = (1.0,)
    depth: int = 0
    modes: tuple[bool, ...] = ()

    @cached_property
    def values(self) -> list[float]:
        return layout(self.palette, self.order, math.prod(self.shape))

    RATE_FREE = True  # x and g do not depend on p (the stratum's cases change it: Stratum)

    @property
    def ordinary(self) -> bool:
        """Whether the call can show what its seed or p does: x of two elements or more, not all 0 or
        non-finite (and so g, for ``dropout_vjp``)."""
        def shown(values: list[float]) -> bool:
            return any(v != 0 and math.isfinite(v) for v in values)

        return math.prod(self.shape) >= 2 and shown(self.values) and (
            self.capability != "dropout_vjp" or shown(layout(self.gradient, self.order, math.prod(self.shape))))

    @cached_property
    def g(self) -> Tensor:
        """The upstream gradient of a ``dropout_vjp`` call, of x's shape and format."""
        return Tensor.from_flat(layout(self.gradient, self.order, math.prod(self.shape)), self.shape, self.dtype,
                                rounded=True)

    @cached_property
    def x(self) -> Tensor:
        """x as an engine tensor (its values lie in dtype: nothing is rounded), built once per case."""
        return Tensor.from_flat(self.values, self.shape, self.dtype, rounded=True)

    def called(self, impl: Implementation) -> object:
        """What ``impl`` returns for this case's call."""
        if self.capability == "dropout_with_mask":
            return impl.dropout_with_mask(self.x, self.p, seed=self.seed)
        if self.capability == "dropout_noise_shape":
            return impl.dropout_noise_shape(self.x, self.p, self.noise_shape, training=self.training, seed=self.seed)
        if self.capability == "dropout_vjp":
            return impl.dropout_vjp(self.x, self.p, self.g, training=self.training, seed=self.seed)
        if self.capability == "dropout_module":
            return self._network_outputs(impl)
        if self.capability == "dropout_stream":
            stream = impl.dropout_stream(self.seed)
            return [stream(self.x, self.p, training=mode) for mode in STREAM_MODES]
        return impl.dropout(self.x, self.p, training=self.training, seed=self.seed)

    def _network_outputs(self, impl: Implementation) -> list[object]:
        """The outputs of the network's calls on x, one for each of ``modes``, the mode set by ``train()``
        or ``eval()`` on the outermost module before the first call and wherever it changes."""
        net = impl.dropout_module(self.p, seed=self.seed)
        for _ in range(self.depth):
            net = impl.sequential(net)
        outputs, mode = [], None
        for training in self.modes:
            if training is not mode:
                (net.train if training else net.eval)()
                mode = training
            outputs.append(net(self.x))
        return outputs

    def _network_snippet(self) -> str:
        """The network's lines of :meth:`snippet`: made, then set and called as ``_network_outputs`` does."""
        net = f"impl.dropout_module({self.p!r}, seed={self.seed})"
        for _ in range(self.depth):
            net = f"impl.sequential({net})"
        lines, mode = [f"net = {net}"], None
        for k, training in enumerate(self.modes, 1):
            if training is not mode:
                lines.append("net.train()" if training else "net.eval()")
                mode = training
            lines.append(f"y{k} = net(x)")
        return "; ".join(lines)

    def _built(self, name: str, palette: tuple[float, ...]) -> tuple[str, str]:
        """The import a tensor's line needs and the line building tensor ``name`` of ``palette``'s values."""
        size = math.prod(self.shape)
        head = "from refdropout.tensor import Tensor; "
        if size <= 16:
            data = "[" + ", ".join(map(_literal, layout(palette, self.order, size))) + "]"
        elif len(set(map(repr, palette))) == 1:
            data = f"[{_literal(palette[0])}] * {size}"
        else:
            data = f"layout([{', '.join(map(_literal, palette))}], {self.order}, {size})"
            head += "from refdropout.conformance.cases import layout; "
        return head, f"{name} = Tensor.from_flat({data}, {self.shape}, '{self.dtype.name}')"

    def snippet(self) -> str:
        """The call as one line of Python, run with ``impl`` bound to the implementation: x (and g) built
        from its values (listed up to 16 elements, else by :func:`layout`), then ``y = impl.CALL``."""
        head, x = self._built("x", self.palette)
        arguments = f"x, {self.p!r}"
        if self.capability == "dropout_with_mask":
            return f"{head}{x}; y, keep = impl.dropout_with_mask({arguments}, seed={self.seed})"
        if self.capability == "dropout_vjp":
            g_head, g = self._built("g", self.gradient)
            head = g_head if len(g_head) > len(head) else head
            return (f"{head}{x}; {g}; y, dx = impl.dropout_vjp({arguments}, g, training={self.training}, "
                    f"seed={self.seed})")
        if self.capability == "dropout_module":
            return f"{head}{x}; {self._network_snippet()}"
        if self.capability == "dropout_stream":
            return (f"{head}{x}; stream = impl.dropout_stream({self.seed}); "
                    f"ys = [stream({arguments}, training=mode) for mode in {STREAM_MODES}]")
        if self.capability == "dropout_noise_shape":
            arguments += f", {self.noise_shape!r}"
        return f"{head}{x}; y = impl.{self.capability}({arguments}, training={self.training}, seed={self.seed})"


@cache
def _palettes(dtype: DType, nonfinite: bool) -> st.SearchStrategy[list[float]]:
    """1 to 6 values of ``dtype`` (:func:`values`): x's palette, or g's."""
    return st.lists(values(dtype, nonfinite=nonfinite), min_size=1, max_size=6)


_ORDERS = st.integers(0, 2**32 - 1)  # a layout's order (0: the palette's first value everywhere)
_AXIS_SHAPES = shapes().filter(len)  # shapes of at least one axis


@st.composite
def _cases(draw: st.DrawFn, impl: Implementation, p: st.SearchStrategy[float], nonfinite: bool,
           shape: st.SearchStrategy[tuple[int, ...]] | None, training: bool, capability: str, ones: bool) -> Case:
    dtype = draw(formats(impl))
    palette = (1.0,) if ones else tuple(draw(_palettes(dtype, nonfinite)))
    gradient = tuple(draw(_palettes(dtype, nonfinite))) if capability == "dropout_vjp" else (1.0,)
    order = 0 if len(palette) == len(gradient) == 1 else draw(_ORDERS)
    drawn = draw(shapes() if shape is None else shape)  # not `shape or ...`: a strategy's truth warns
    return Case(dtype, drawn, draw(p), draw(seeds), palette, order, training, capability, gradient=gradient)


@st.composite
def _noise_cases(draw: st.DrawFn, impl: Implementation) -> Case:
    shape = draw(_AXIS_SHAPES)
    noise = tuple(draw(_sampled((n, None, 1))) for n in shape)
    return Case(draw(formats(impl)), shape, draw(rates), draw(seeds), capability="dropout_noise_shape",
                noise_shape=noise)


CORNER_RATE = 1 - 2**-25  # q = 2^-25: 0 in float16 (a tie, to even), fl(1/q) beyond float16's range


def corners(impl: Implementation, seed: int, capability: str = "dropout") -> list[Case]:
    """The cases every search of p in (0, 1) tries first, one per declared format: p = CORNER_RATE on
    ±0, 1, -2, the least subnormal and the largest finite value, where a scale computed in a 16-bit
    format overflows or a q rounded to it is 0 (and 0 / 0 is NaN); for ``dropout_vjp`` these are g's
    values, x being 1."""
    def corner(dtype: DType) -> Case:
        edges = (0.0, -0.0, 1.0, -2.0, dtype.tiny, dtype.max)
        if capability == "dropout_vjp":  # x = 1 (the mask reads off y), g the edges
            return Case(dtype, (6,), CORNER_RATE, seed, (1.0,), 1, True, capability, gradient=edges)
        return Case(dtype, (6,), CORNER_RATE, seed, edges, 1, True, capability)

    return [corner(dtype) for dtype in dtypes_of(impl)]


# (x in units of M, the largest finite value, less ulp(M) steps; 1 / q - 1 in units of the format's eps)
OVERFLOW_CORNERS = ((1, 0.625), (0, 0.375), (0, 1.25))


def overflow_corners(impl: Implementation, seed: int, capability: str = "dropout") -> list[Case]:
    """The cases every search of kept values tries after ``corners``, three per declared format narrower
    than float64, x = ±(M - k ulp(M)) at 1 / q = 1 + c eps for (k, c) in OVERFLOW_CORNERS: x / q rounds
    to M and a scale fl(1 / q) = 1 + eps carries it over to ±inf; x / q rounds one step past M and
    fl(1 / q) = 1 brings it back to M; x / q is two steps past M, where only ±inf is within one ulp (a
    saturating conversion gives M). The first two are where "within one ulp" meets overflow
    (spec/dropout.md); float64's kept values are computed in float64 itself, which has no value between
    its steps. For ``dropout_vjp`` these are g's values, x being 1."""
    def corner(dtype: DType, steps: int, excess: float) -> Case:
        x = dtype.max - steps * math.ldexp(1.0, dtype.emax - dtype.precision + 1)
        p = 1.0 - 1.0 / (1.0 + excess * dtype.eps)
        if capability == "dropout_vjp":
            return Case(dtype, (8,), p, seed, (1.0,), 1, True, capability, gradient=(x, -x))
        return Case(dtype, (8,), p, seed, (x, -x), 1, True, capability)

    return [corner(dtype, steps, excess) for dtype in dtypes_of(impl) if dtype.precision < 53
            for steps, excess in OVERFLOW_CORNERS]


def noise_corners(impl: Implementation, seed: int) -> list[Case]:
    """The cases every search of noise shapes tries first: in each declared format an empty axis named by
    its size, x of shape (0, 3) with the noise shape (0, 1); then, in each declared format, the first p of
    every search of p in (0, 1) (RUNNER-18), CORNER_RATE, on x = 1 of shape (2, 3) with the noise shape
    (2, 1), where a q rounded to float16 is 0 and x / q is 0 / 0 = NaN at a dropped element."""
    formats = dtypes_of(impl)
    return ([Case(dtype, (0, 3), 0.3, seed, capability="dropout_noise_shape", noise_shape=(0, 1)) for dtype in formats]
            + [Case(dtype, (2, 3), CORNER_RATE, seed, capability="dropout_noise_shape", noise_shape=(2, 1))
               for dtype in formats])


def noise_cases(impl: Implementation) -> st.SearchStrategy[Case]:
    """Cases of ``impl``'s ``dropout_noise_shape`` on x = 1 of 1 to 5 axes in every declared format: each
    axis of the noise shape the axis's size, None (the same) or 1 (shared); p in (0, 1); any seed."""
    return _noise_cases(impl)


def module_cases(impl: Implementation, modes: tuple[bool, ...], *, p: st.SearchStrategy[float] = rates,
                 nonfinite: bool = False) -> st.SearchStrategy[Case]:
    """Cases of a network of ``impl`` (``dropout_module`` and ``sequential``): its dropout layer held by 0
    to 4 containers, called on x of any shape, declared format and values (NaN and ±inf among them where
    ``nonfinite``) once for each of ``modes`` (True: after ``train()``, False: after ``eval()``); p from
    ``p``, any seed."""
    return st.builds(replace, cases(impl, p=p, nonfinite=nonfinite), capability=st.just("dropout_module"),
                     depth=st.integers(0, 4), modes=st.just(modes))


def cases(impl: Implementation, *, p: st.SearchStrategy[float] = rates, nonfinite: bool = False,
          shape: st.SearchStrategy[tuple[int, ...]] | None = None, training: bool = True,
          capability: str = "dropout", ones: bool = False) -> st.SearchStrategy[Case]:
    """Cases of ``impl``'s ``capability`` in every declared format: p from ``p``, a seed from
    :data:`seeds`, x of a shape from ``shape`` (:func:`shapes` by default) with values of the
    format (NaN and ±inf among them where ``nonfinite``), or 1 everywhere where ``ones``; for
    ``dropout_vjp`` an upstream gradient g of values of the format too."""
    return _cases(impl, p, nonfinite, shape, training, capability, ones)


# ---- the stratum: every special seed, and every extreme rate in every format, tried by every search ----

SEED_CASE_RATE = 1 / 3  # p of a special seed's case, where its strategy draws p from rates
PATIENCE = 16  # the cases drawn for a format's base case at most (the first is Hypothesis' simplest)


def _rate_free(case: object, rates: list[float]) -> bool:
    """Whether ``case``'s p may be any rate: it was the one p drawn, by :data:`rates`, and nothing else of
    the case depends on it (a DropConnect case's weights do: it says so in ``RATE_FREE``)."""
    return getattr(case, "RATE_FREE", False) and rates == [case.p]


class Stratum:
    """The stratum of one search, built from base cases its strategy draws, one in each declared format
    (:meth:`offer`, within :meth:`format`): the first case that is ordinary (``case.ordinary``: it can
    show what its seed or p does) and whose p is free (:func:`_rate_free`), else the first ordinary one,
    else the first. Its cases (:meth:`cases`): each special seed once, on the best base cases in turn
    (ordinary with p free where the strategy drew one, at p = SEED_CASE_RATE); then each extreme rate on
    the base case of each format whose p is free."""

    def __init__(self) -> None:
        self._bases: list[tuple[tuple[bool, bool], object]] = []  # (rank, case) of each format, in their order
        self._best: tuple[tuple[bool, bool], object] | None = None  # (rank, case) of the current format's
        self._drawing = _Drawing(0)

    @contextmanager
    def format(self, index: int) -> Iterator[None]:
        """Within it, the strategies of this module draw the ``index``-th declared format and note the rates
        they draw; the best case offered is that format's base case (none where none was offered)."""
        self._drawing, self._best = _Drawing(index), None
        token = _DRAWING.set(self._drawing)
        try:
            yield
        finally:
            _DRAWING.reset(token)
        if self._best is not None:
            self._bases.append(self._best)

    def offer(self, case: object) -> bool:
        """Considers ``case``, drawn within :meth:`format`: True when the format needs no more draws (its
        base case is found, or the implementation declares fewer formats)."""
        drawn = self._drawing
        if drawn.missed:
            return True
        rank = (case.ordinary, _rate_free(case, drawn.rates))
        drawn.rates.clear()
        if self._best is None or rank > self._best[0]:
            self._best = (rank, case)
        return rank == (True, True)

    def cases(self) -> list[object]:
        """Each special seed on the best base cases in turn, then each extreme rate on each base case whose
        p is free."""
        if not self._bases:
            return []
        best = max(rank for rank, _ in self._bases)
        bases = [case for rank, case in self._bases if rank == best]
        seeded = [replace(case, seed=seed, **({"p": SEED_CASE_RATE} if best[1] else {}))
                  for seed, case in zip(SPECIAL_SEEDS, bases * len(SPECIAL_SEEDS), strict=False)]
        return seeded + [replace(case, p=p) for (_, free), case in self._bases if free for p in EXTREME_RATES]


# ==== spec/variants.md: the cases of the variants' exact clauses (issue 16 §1) =======================
# A variant's call takes options of its own (spatial_dims, data_format, mode, scaling, block_size) and a
# shape they constrain: a layout strategy draws both, and :func:`variant_cases` draws the rest of the
# case (format, p, seed, x's values) as :func:`cases` does.

Layout = tuple[tuple[int, ...], tuple[tuple[str, object], ...]]  # (shape, the call's keyword options)
CHANNEL_FORMATS = ("channels_first", "channels_last")
# p where a mask shows its structure (both outcomes likely) one time in two, any of :data:`rates` otherwise:
# at p = 5e-324 nothing is dropped and a mask shared wrongly goes unseen
mask_rates = with_rates(st.sampled_from((0.3, 0.5, 0.7, 1 / 3)))
__all__ += ["CHANNEL_FORMATS", "Layout", "VariantCase", "channel_layouts", "variant_cases", "variant_corners",
            "channel_corners", "mask_rates", "path_layouts", "block_layouts",
            "FUSED_LENGTHS", "FusedCase", "fused_cases", "fused_corners", "fused_inputs",
            "DropConnectCase", "dropconnect_cases",
            "RECURRENT_CALLS", "RecurrentCase", "recurrent_cases"]


@dataclass(frozen=True)
class VariantCase(Case):
    """One call of a variant, ``impl.CAPABILITY(x, p, **keywords, training=..., seed=...)``
    (``channel_dropout``, ``feature_alpha_dropout``, ``drop_path``, ``dropblock2d``, ...); x, p, the seed
    and the mode as in :class:`Case`."""

    keywords: tuple[tuple[str, object], ...] = ()

    @property
    def options(self) -> dict[str, object]:
        return dict(self.keywords)

    def called(self, impl: Implementation) -> object:
        return getattr(impl, self.capability)(self.x, self.p, **self.options, training=self.training, seed=self.seed)

    def snippet(self) -> str:
        head, x = self._built("x", self.palette)
        options = "".join(f", {name}={value!r}" for name, value in self.keywords)
        return (f"{head}{x}; y = impl.{self.capability}(x, {self.p!r}{options}, training={self.training}, "
                f"seed={self.seed})")


@st.composite
def _sized(draw: st.DrawFn, rank: int, max_elements: int = MAX_ELEMENTS) -> tuple[int, ...]:
    """``rank`` axes of sizes of _AXIS_OR_EMPTY, at most ``max_elements`` elements in all."""
    shape: list[int] = []
    for _ in range(rank):
        room = max_elements // max(math.prod(shape), 1)
        shape.append(draw(st.sampled_from([n for n in _AXIS_OR_EMPTY if n <= room])))
    return tuple(shape)


@st.composite
def channel_layouts(draw: st.DrawFn, batched: bool, max_elements: int = MAX_ELEMENTS) -> Layout:
    """spatial_dims d in 1..3, either data_format, and a shape of d + 2 axes (``batched``) or d + 1
    (one unbatched sample), each axis of any size, 0 included, at most ``max_elements`` elements
    (VARIANTS-1, VARIANTS-2, VARIANTS-6)."""
    d = draw(st.integers(1, 3))
    data_format = draw(st.sampled_from(CHANNEL_FORMATS))
    return draw(_sized(d + 1 + batched, max_elements)), (("spatial_dims", d), ("data_format", data_format))


def _variant(case: Case, capability: str, keywords: tuple[tuple[str, object], ...] = (),
             **changes: object) -> VariantCase:
    """``case`` as a call of the variant ``capability`` with ``keywords``, its fields ``changes`` changed."""
    known = {f.name: getattr(case, f.name) for f in fields(Case)}
    return VariantCase(**{**known, **changes, "capability": capability}, keywords=keywords)


def variant_cases(impl: Implementation, capability: str, layouts: st.SearchStrategy[Layout], *,
                  p: st.SearchStrategy[float] = rates, nonfinite: bool = False, training: bool = True,
                  ones: bool = False) -> st.SearchStrategy[VariantCase]:
    """Cases of ``impl``'s variant ``capability``: a shape and options from ``layouts``, the rest as
    :func:`cases` draws it (every declared format, p from ``p``, any seed; x = 1 where ``ones``)."""
    def drawn(layout: Layout) -> st.SearchStrategy[VariantCase]:
        shape, keywords = layout
        return cases(impl, p=p, nonfinite=nonfinite, shape=st.just(shape), training=training, ones=ones).map(
            lambda case: _variant(case, capability, keywords))

    return layouts.flatmap(drawn)


@st.composite
def path_layouts(draw: st.DrawFn, max_elements: int = MAX_ELEMENTS) -> Layout:
    """DropPath's mode ("row", on 1 to 5 axes, or "batch", on 0 to 5) and scaling ("inverted" or
    "classic"), each axis of any size, 0 included, at most ``max_elements`` elements (VARIANTS-12)."""
    mode = draw(st.sampled_from(("row", "batch")))
    scaling = draw(st.sampled_from(("inverted", "classic")))
    shape = draw(_sized(draw(st.integers(int(mode == "row"), 5)), max_elements))
    return shape, (("mode", mode), ("scaling", scaling))


_MAP_SIDES = (1, 2, 3, 4, 5, 7, 8, 9, 16, 17)  # H or W of a DropBlock map: simplest first


@st.composite
def block_layouts(draw: st.DrawFn, max_elements: int = MAX_ELEMENTS) -> Layout:
    """DropBlock's (N, C, H, W), N and C in 0..3, H and W of any sides (rectangles), at most ``max_elements``
    elements, and a block size b in [1, min(H, W)] (VARIANTS-13)."""
    n, c = draw(st.integers(1, 3) | st.just(0)), draw(st.integers(1, 3))
    height = draw(st.sampled_from([side for side in _MAP_SIDES if n * c * side <= max_elements] or [1]))
    room = max_elements // max(n * c * height, 1)
    width = draw(st.sampled_from([side for side in _MAP_SIDES if side <= room]))
    return (n, c, height, width), (("block_size", draw(st.integers(1, min(height, width)))),)


def variant_corners(impl: Implementation, seed: int, capability: str,
                    rates: tuple[float, ...] = (CORNER_RATE,)) -> list[VariantCase]:
    """:func:`corners` as calls of the elementwise variant ``capability``, at each of ``rates``."""
    return [_variant(case, capability, p=p) for p in rates for case in corners(impl, seed)]


def channel_corners(impl: Implementation, seed: int, capability: str, rates: tuple[float, ...] = (CORNER_RATE,),
                    value: float = 1.0, batched: bool = True) -> list[VariantCase]:
    """The cases a search of channel layouts tries first: in every declared format and at each of
    ``rates``, x = ``value`` of shape (2, 2, 3), 2 samples of 2 channels (``batched``), or (2, 3), one
    sample of 2 channels; spatial_dims = 1, channels first."""
    return [VariantCase(dtype, (2, 2, 3) if batched else (2, 3), p, seed, (value,), capability=capability,
                        keywords=(("spatial_dims", 1), ("data_format", "channels_first")))
            for p in rates for dtype in dtypes_of(impl)]


# ---- DropConnect (VARIANTS-9): weights of any shape and values, read through rows of the identity ----------


@dataclass(frozen=True)
class DropConnectCase(Case):
    """One call ``impl.dropconnect(x, w, p, training=..., seed=...)``: w of ``shape`` (out, in) in ``dtype``,
    its values ``layout(palette, order, out * in)``; x of (``batch``, in) whose row i is e_(i mod in), so that
    y[i, r] is the effective weight W'[r, i mod in] (VARIANTS-9)."""

    batch: int = 1
    RATE_FREE = False  # the weights' bound depends on p (dropconnect_cases)

    @property
    def ordinary(self) -> bool:
        """As :attr:`Case.ordinary` for the weights, with x of one row or more."""
        return self.batch > 0 and super().ordinary

    @cached_property
    def weight(self) -> Tensor:
        return Tensor.from_flat(self.values, self.shape, self.dtype, rounded=True)

    @cached_property
    def x(self) -> Tensor:
        columns = self.shape[1]
        return Tensor.from_flat([float(j == i % columns) for i in range(self.batch) for j in range(columns)],
                                (self.batch, columns), self.dtype)

    def called(self, impl: Implementation) -> object:
        return impl.dropconnect(self.x, self.weight, self.p, training=self.training, seed=self.seed)

    def snippet(self) -> str:
        head, w = self._built("w", self.palette)
        batch, columns = self.batch, self.shape[1]
        x = (f"x = Tensor.from_flat([float(j == i % {columns}) for i in range({batch}) for j in range({columns})], "
             f"({batch}, {columns}), '{self.dtype.name}')")
        return f"{head}{w}; {x}; y = impl.dropconnect(x, w, {self.p!r}, training={self.training}, seed={self.seed})"


Multiplier = Callable[[float, DType], float]  # (p, format) -> the largest multiplier a kept weight may get


def _weights_within(dtype: DType, bound: float) -> st.SearchStrategy[float]:
    """Finite values of ``dtype`` of magnitude at most ``bound``: its special values within it, or any."""
    special = [v for v in special_values(dtype) if abs(v) <= bound]
    return st.sampled_from(special) | st.floats(-bound, bound).map(dtype.round)


@st.composite
def _dropconnect_cases(draw: st.DrawFn, impl: Implementation, p: st.SearchStrategy[float], training: bool,
                       largest: Multiplier) -> DropConnectCase:
    dtype, rate = draw(formats(impl)), draw(p)
    out, columns = draw(_sized(2).filter(lambda shape: shape[1] > 0))
    bound = dtype.max / 2 / largest(rate, dtype)  # every effective weight, and the sums of y, stay finite
    palette = tuple(draw(st.lists(_weights_within(dtype, bound), min_size=1, max_size=6)))
    order = 0 if len(palette) == 1 else draw(_ORDERS)
    return DropConnectCase(dtype, (out, columns), rate, draw(seeds), palette, order, training, "dropconnect",
                           batch=draw(_sampled(_AXIS_OR_EMPTY)))


def dropconnect_cases(impl: Implementation, largest: Multiplier, *, p: st.SearchStrategy[float] = mask_rates,
                      training: bool = True) -> st.SearchStrategy[DropConnectCase]:
    """Calls of ``impl``'s ``dropconnect`` in every declared format: W of (out, in), each of any size (in >= 1),
    of finite values of the format at most ``dtype.max / 2 / largest(p, dtype)`` in magnitude (``largest``:
    the largest multiplier a kept weight may get, at least 1), x of 0 to 17 rows of the identity; p from
    ``p``; any seed."""
    return _dropconnect_cases(impl, p, training, largest)


# ---- fused attention (VARIANTS-21, VARIANTS-22): a kernel's calls on inputs that show its mask ----------


def fused_inputs(shape: tuple[int, ...], dtype: DType) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(q, k, v, g) of ``shape`` (batch, heads, L, L) in ``dtype``: q = k = 0, v = g = I_L in every head
    (spec/variants.md, fused attention)."""
    numpy_format = NUMPY_FORMATS[dtype.name]
    zeros = np.zeros(shape, dtype=numpy_format)
    eye = np.broadcast_to(np.eye(shape[-1], dtype=numpy_format), shape).copy()
    return zeros, zeros.copy(), eye, eye.copy()


FUSED_LENGTHS = (1, 2, 4, 8, 16, 32, 64)  # L of a generated fused call: a power of two, so that 1/L is exact
FUSED_WEIGHTS = 2**14  # the most weights of a generated fused call: at L = 64, 4 heads in all


@dataclass(frozen=True)
class FusedCase:
    """One call of kernel ``backend``'s ``fused_attention`` on :func:`fused_inputs` of ``shape`` in ``dtype``."""

    backend: str
    dtype: DType
    shape: tuple[int, int, int, int]
    p: float
    seed: int
    training: bool = True

    ordinary = True  # its inputs show every weight's mask (the stratum's test of a case, Stratum)
    RATE_FREE = True  # its inputs do not depend on p

    def called(self, impl: Implementation) -> tuple[object, object]:
        """(o, dL/dv) as ``impl`` returns them for this case's call."""
        return impl.fused_attention(*fused_inputs(self.shape, self.dtype), self.p, backend=self.backend,
                                    training=self.training, seed=self.seed)

    def snippet(self) -> str:
        return ("from refdropout.conformance.cases import fused_inputs; from refdropout.dtypes import get_dtype; "
                f"o, dv = impl.fused_attention(*fused_inputs({self.shape}, get_dtype('{self.dtype.name}')), "
                f"{self.p!r}, backend={self.backend!r}, training={self.training}, seed={self.seed})")


@st.composite
def _fused_cases(draw: st.DrawFn, backends: tuple[tuple[str, tuple[DType, ...]], ...],
                 p: st.SearchStrategy[float], training: bool) -> FusedCase:
    backend, formats = draw(st.sampled_from(backends))
    length = draw(st.sampled_from(FUSED_LENGTHS))
    batch = draw(st.integers(1, min(3, FUSED_WEIGHTS // length**2)))
    shape = (batch, draw(st.integers(1, min(4, FUSED_WEIGHTS // (batch * length**2)))), length, length)
    return FusedCase(backend, draw(st.sampled_from(formats)), shape, draw(p), draw(seeds), training)


def fused_corners(backends: tuple[tuple[str, tuple[DType, ...]], ...], seed: int) -> list[FusedCase]:
    """The calls a search of fused kernels tries first: every kernel in every format it names at
    p = CORNER_RATE (q is 0 in float16) on (1, 1, 2, 2) weights."""
    return [FusedCase(backend, dtype, (1, 1, 2, 2), CORNER_RATE, seed) for backend, formats in backends
            for dtype in formats]


def fused_cases(backends: tuple[tuple[str, tuple[DType, ...]], ...], *, p: st.SearchStrategy[float] = mask_rates,
                training: bool = True) -> st.SearchStrategy[FusedCase]:
    """Calls of the kernels ``backends`` names ((name, formats) pairs), each in one of its formats: 1 to 3
    samples of 1 to 4 heads of L x L weights, L a power of two up to 64, at most FUSED_WEIGHTS weights in
    all; p from ``p``; any seed."""
    return _fused_cases(tuple(backends), p, training)


# ---- recurrent networks (spec/recurrent.md): a network's sizes, rates and seed -----------------------

_RECURRENT_STEPS = (1, 2, 3, 5, 8, 9, 12, 16, 17)  # T: around the blocks a kernel may process time in


@dataclass(frozen=True)
class RecurrentCase:
    """One training call of a recurrent network of ``impl`` (spec/recurrent.md): ``semantics``
    ("between_layers" or "variational"), ``cell`` ("lstm" or "gru"), ``layers`` layers of ``hidden``
    units on x of (steps, batch, inputs), the weights and x those ``network_weights`` and ``sequence``
    make from ``seed`` (refdropout.conformance.recurrent), the rates ``rates`` (between layers, on x_t,
    on h_(t-1)), the masks drawn from ``seed``."""

    semantics: str
    cell: str
    steps: int
    batch: int
    inputs: int
    hidden: int
    layers: int
    rates: tuple[float, float, float]
    seed: int
    call: str = "masks"  # the calls the snippet shows: a key of RECURRENT_CALLS
    ordinary = True  # its weights and x, made from the seed, show the masks (the stratum's test of a case, Stratum)

    def snippet(self) -> str:
        between, on_input, on_state = self.rates
        net = (f"impl.recurrent_between_layers('{self.cell}', w, {between!r}, seed={self.seed})"
               if self.semantics == "between_layers" else
               f"impl.recurrent_variational('{self.cell}', w, {on_input!r}, {on_state!r}, seed={self.seed})")
        return ("from refdropout.conformance.recurrent import network_weights, sequence; "
                f"w = network_weights('{self.cell}', {self.inputs}, {self.hidden}, {self.layers}, {self.seed}); "
                f"x = sequence({self.steps}, {self.batch}, {self.inputs}, {self.seed}); net = {net}; "
                + RECURRENT_CALLS[self.call].format(net=net, steps=self.steps, batch=self.batch, hidden=self.hidden,
                                                    inputs=self.inputs, seed=self.seed))


# the calls a RecurrentCase's snippet shows after building net, x and the weights w, by RecurrentCase.call
RECURRENT_CALLS = {
    "masks": "y, masks = impl.recurrent_masks(net, x, training=True)",  # RECURRENT-5, -6, -7
    "eval": "y = net(x, training=False)",  # RECURRENT-12
    "train": "y = net(x, training=True)",  # RECURRENT-1, -2: every rate 0
    # RECURRENT-5, -6 with recurrent_mask_draws: two calls, then a fresh network's draws and its call after them
    "draws": ("y, masks = impl.recurrent_masks(net, x, training=True); "
              "_, second = impl.recurrent_masks(net, x, training=True); net = {net}; "
              "drawn = impl.recurrent_mask_draws(net, x.shape, training=True); "
              "_, following = impl.recurrent_masks(net, x, training=True)"),
    # RECURRENT-13: the gradient of <g, y>, and the direction v its central differences are taken along
    "vjp": ("g = sequence({steps}, {batch}, {hidden}, {seed}, stream=2); "
            "v = sequence({steps}, {batch}, {inputs}, {seed}, stream=3); "
            "y, dx = impl.recurrent_vjp(net, x, g, training=True)"),
}


_RECURRENT_RATES = st.sampled_from((0.3, 0.5, 0.7, 1 / 3)) | rates


@st.composite
def _recurrent_cases(draw: st.DrawFn, semantics: tuple[str, ...], cells: tuple[str, ...], call: str,
                     rate: st.SearchStrategy[float]) -> RecurrentCase:
    return RecurrentCase(draw(st.sampled_from(semantics)), draw(st.sampled_from(cells)),
                         draw(st.sampled_from(_RECURRENT_STEPS)), draw(st.integers(1, 3)), draw(st.integers(1, 4)),
                         draw(st.integers(1, 4)), draw(st.integers(1, 3)), (draw(rate), draw(rate), draw(rate)),
                         draw(seeds), call)


def recurrent_cases(semantics: tuple[str, ...], cells: tuple[str, ...], call: str = "masks",
                    rate: st.SearchStrategy[float] = _RECURRENT_RATES) -> st.SearchStrategy[RecurrentCase]:
    """Networks of one of ``semantics`` and ``cells``: T of 1 to 17 steps (around blocks of 4, 8 and 16),
    1 to 3 batch elements, 1 to 4 inputs and hidden units, 1 to 3 layers, each rate from ``rate`` (by
    default in (0, 1), 0.3, 0.5, 0.7 or 1/3 one time in two), any seed; ``call`` the calls their snippets
    show (a key of RECURRENT_CALLS)."""
    return _recurrent_cases(tuple(semantics), tuple(cells), call, rate)
