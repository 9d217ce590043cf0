"""The cases of the exact clauses, drawn by Hypothesis (issue 16 §1; spec/runner.md, "Generated cases").

A :class:`Case` is one call of an implementation: a floating format, a shape, p, a seed, the mode
and x's values. The strategies here draw them over the whole input space, not one slice of it:

* ``formats(impl)`` — every floating format the implementation declares;
* :func:`shapes` — 0-d, one element, empty, sizes around vector widths (1 to 67, primes,
  2^k - 1, 2^k, 2^k + 1 up to 2^10 + 1) and 2- to 5-axis shapes, at most MAX_ELEMENTS elements;
* :data:`rates` (p in (0, 1)) and :data:`probabilities` (p in [0, 1]) — ordinary values and the
  extremes: 5e-324, 1e-7, nextafter(1, 0) and values that round differently in float32, float16
  and bfloat16 (SPECIAL_RATES);
* :data:`seeds` — any seed in [0, 2^64), the edges of 32- and 64-bit integers often
  (SPECIAL_SEEDS);
* :func:`values` — a format's values: ±0, subnormals, the least normal, ±1, the largest finite
  value and, where a clause allows them, NaN and ±inf, besides any value of the format.

x's values are a small palette laid out by a seeded shuffle (:func:`layout`), so that a case of
a thousand elements costs Hypothesis a few draws and shrinks to a few values. A case prints as a
runnable snippet (:meth:`Case.snippet`): run with ``impl`` bound to the implementation, it makes
the call again. The project's own tests draw from the same strategies (tests/helpers.py).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from functools import cached_property

from hypothesis import strategies as st

from ..contract import Implementation, dtypes_of
from ..dtypes import DType
from ..tensor import Tensor

__all__ = ["MAX_ELEMENTS", "NONFINITE", "SIZES", "SPECIAL_RATES", "SPECIAL_SEEDS", "STREAM_MODES", "Case", "cases",
           "formats", "layout", "CORNER_RATE", "corners", "module_cases", "noise_cases", "noise_corners",
           "probabilities", "rates", "seeds", "shapes", "special_values", "values"]

MAX_ELEMENTS = 2**10 + 1  # a case stays cheap for a pure-Python implementation (a few milliseconds)
_WIDTHS = {n for k in range(1, 11) for n in (2**k - 1, 2**k, 2**k + 1)}  # around vector widths up to 2^10
_PRIMES = (71, 73, 97, 101, 127, 131, 251, 257, 509, 521, 1021)
SIZES = tuple(sorted({*range(68), *_WIDTHS, *_PRIMES}))  # elements of a 1-axis case, 0 (empty) first
_AXIS = (1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 0)  # an axis of a 2- to 5-axis case: simplest first, 0 (empty) last

SPECIAL_SEEDS = (0, 1, 2, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**63 - 1, 2**63, 2**64 - 1)
SPECIAL_RATES = (
    0.1, 0.3, 0.5, 0.7, 1 / 3,  # ordinary, and inexact in every format
    5e-324, 1e-300, 1e-7, 2**-24, 2**-25, 6e-8,  # tiny: q rounds to 1 in binary64 / binary32 / float16
    0.999, 1 - 2**-9, 1 - 2**-12, 1 - 2**-25,  # 1 in bfloat16 / float16 / binary32, but not in binary64
    math.nextafter(1.0, 0.0),  # the largest p below 1: q = 2^-53
)

# the special values two times in three: a bug that lives at one of them is found in a few cases
seeds = st.one_of(*[st.sampled_from(SPECIAL_SEEDS)] * 2, st.integers(0, 2**64 - 1))  # every seed a call must accept
rates = st.one_of(*[st.sampled_from(SPECIAL_RATES)] * 2, st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
probabilities = st.one_of(st.sampled_from((0.0, 1.0)), rates)  # p in [0, 1], the endpoints included


def formats(impl: Implementation) -> st.SearchStrategy[DType]:
    """Every floating format ``impl`` declares (its dtypes)."""
    return st.sampled_from(dtypes_of(impl))


@st.composite
def _axes(draw: st.DrawFn, max_elements: int) -> tuple[int, ...]:
    """2 to 5 axes of at most ``max_elements`` elements in all."""
    shape: list[int] = []
    for _ in range(draw(st.integers(2, 5))):
        room = max_elements // max(math.prod(shape), 1)
        shape.append(draw(st.sampled_from([n for n in _AXIS if n <= room])))
    return tuple(shape)


def shapes(max_elements: int = MAX_ELEMENTS) -> st.SearchStrategy[tuple[int, ...]]:
    """0-d (shrinks to it), 1-axis of a size of SIZES (one in two cases) and 2- to 5-axis shapes."""
    one_axis = st.sampled_from([n for n in SIZES if n <= max_elements]).map(lambda n: (n,))
    return st.integers(0, 9).flatmap(lambda kind: st.just(()) if kind == 0 else one_axis if kind <= 5
                                     else _axes(max_elements))


NONFINITE = (math.nan, math.inf, -math.inf)
STREAM_MODES = (True, False, True, True)  # a dropout_stream case's calls: training, evaluation between


def special_values(dtype: DType) -> tuple[float, ...]:
    """±0, ±1, ±the least subnormal, the largest subnormal, ±the least normal and ±the largest finite
    value of ``dtype``."""
    normal = math.ldexp(1.0, dtype.emin)
    return (0.0, -0.0, 1.0, -1.0, dtype.tiny, -dtype.tiny, normal - dtype.tiny, normal, -normal, dtype.max, -dtype.max)


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


@st.composite
def _cases(draw: st.DrawFn, impl: Implementation, p: st.SearchStrategy[float], nonfinite: bool,
           shape: st.SearchStrategy[tuple[int, ...]] | None, training: bool, capability: str, ones: bool) -> Case:
    dtype = draw(formats(impl))
    palette = (1.0,) if ones else tuple(draw(st.lists(values(dtype, nonfinite=nonfinite), min_size=1, max_size=6)))
    gradient = (tuple(draw(st.lists(values(dtype, nonfinite=nonfinite), min_size=1, max_size=6)))
                if capability == "dropout_vjp" else (1.0,))
    order = 0 if len(palette) == len(gradient) == 1 else draw(st.integers(0, 2**32 - 1))
    return Case(dtype, draw(shape or shapes()), draw(p), draw(seeds), palette, order, training, capability,
                gradient=gradient)


@st.composite
def _noise_cases(draw: st.DrawFn, impl: Implementation) -> Case:
    shape = draw(shapes().filter(len))  # at least one axis
    noise = tuple(draw(st.sampled_from((n, None, 1))) for n in shape)
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


def noise_corners(impl: Implementation, seed: int) -> list[Case]:
    """The cases every search of noise shapes tries first, one per declared format: an empty axis named
    by its size, x of shape (0, 3) with the noise shape (0, 1)."""
    return [Case(dtype, (0, 3), 0.3, seed, capability="dropout_noise_shape", noise_shape=(0, 1))
            for dtype in dtypes_of(impl)]


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

