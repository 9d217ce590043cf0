"""Probing: which allowed value of each policy an implementation follows, and which formats it takes
(spec/runner.md, RUNNER-16).

``refdropout probe TARGET`` measures what ``refdropout check`` would need declared: for each policy
of spec/dropout.md that a plain ``dropout`` call shows (``PROBES``, in order), a few exact calls and
a rule, stated in each probe's docstring, that names the allowed value the calls follow, or says
that they follow none and shows the calls that say so. Nothing is forced into a policy: a behaviour
that matches no allowed value (mixed, or outside every value) is reported with its evidence, and
probing never replaces checking: ``check`` holds the target to what is then declared.

Every call goes through the guard the checks use (guard.py): its time limit, its record of which
exceptions the implementation raised and its capture of output. A probe that an answer of the
implementation stops (a call raising where it must answer, not returning in time, exiting, or
answering with something else than an array of x's shape and format) reports that call as
``check`` reports it; an error of the suite is "could not probe", never blamed on the target.
Inputs are numpy arrays (contract: answers in kind). Seeds are derived from the master seed and
the probe's name (runner.clause_seed), so a probe is replayed from its seed.
"""

from __future__ import annotations

import math
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from ..contract import Implementation, policies_of
from ..contract.arrays import NUMPY_FORMATS
from ..contract.policies import POLICY_VALUES, Policies, eval_value, kept_value
from ..contract.protocol import FLOATING_FORMATS, dtypes_of
from ..dtypes import DType, float32, get_dtype, within_one_ulp
from .dropout import BAD_RATES, RATES
from .guard import CallFailed, CallTimedOut, Guard, Interrupted, Watch, described
from .kit import array_like, edged_array
from .runner import clause_seed, escaped
from .verdict import Outcome

__all__ = ["NOT_PROBED", "PROBES", "Finding", "Probe", "Status", "probe_target"]

FORMATS = POLICY_VALUES["scale_format"]  # the reference's first
SIZE = 4096  # elements of a probe's inputs, as the value checks of spec/dropout.md use
PROBE_RATE = 0.3
SEED_RATE = 0.5  # two independent masks of SIZE elements agree with probability 2^-SIZE
SEED_BITS = (0, 31, 32)  # the bits of the seed whose flip the seed probe tries
SUBNORMAL_RATE = 2.0**-20  # the subnormals probe drops almost nothing: a zero is a flushed subnormal
SUBNORMAL_COPIES = 1024  # of each of the four subnormal classes

NOT_PROBED = {
    "gate_masks": "the masks of recurrent dropout need the recurrent capabilities: declare what the layer does",
    "algorithm": "a documented stream is named, not measured: declare it where the masks are drawn with it",
    "stream_keys": "a documented key schedule is named, not measured: declare it where a stream's keys follow it",
}


class Status(str, Enum):  # noqa: UP042  (as Outcome: str(status) is what messages show)
    FOUND = "found"
    NONE = "no allowed value"
    FAILED = "call failed"
    NOT_MEASURED = "not measured"
    ERROR = "could not probe"


@dataclass(frozen=True)
class Finding:
    """What one probe found: ``value`` the allowed value the calls follow (for ``dtypes`` the formats
    accepted), None unless ``status`` is FOUND; ``evidence`` what the calls showed; ``declared`` what
    the target declares itself; ``trace`` the traceback of an error of the suite."""

    name: str
    status: Status
    value: object = None
    evidence: str = ""
    declared: object = None
    trace: str = ""


@dataclass(frozen=True)
class Probe:
    """Every finding of a probe of one target, in the order of PROBES."""

    target: str
    seed: int
    findings: tuple[Finding, ...]
    seconds: float
    versions: dict = field(default_factory=dict)
    interrupted: object = None  # the signal that stopped it

    def count(self, status: Status) -> int:
        return sum(finding.status is status for finding in self.findings)

    def found(self, name: str) -> object:
        return next((f.value for f in self.findings if f.name == name and f.status is Status.FOUND), None)


class Failed(Exception):
    """An answer of the implementation that stops a probe: what ``check`` would fail the clause for."""


class NotMeasured(Exception):
    """A probe that needs what an earlier one did not find."""


@dataclass
class Probing:
    """What the probes share: the master seed, the guard (to name the calls that raised) and what
    the earlier probes found."""

    seed: int
    guard: Guard
    found: dict[str, object] = field(default_factory=dict)

    def seed_of(self, name: str) -> int:
        return clause_seed(self.seed, f"probe:{name}")

    @property
    def dtypes(self) -> tuple[DType, ...]:
        accepted = self.found.get("dtypes")
        if not accepted:
            raise NotMeasured("no floating format was accepted")
        return tuple(get_dtype(name) for name in accepted)

    def needs(self, name: str) -> object:
        if self.found.get(name) is None:
            raise NotMeasured(f"needs {name}, which was not found")
        return self.found[name]

    def raised(self, error: Exception) -> str:
        """``dropout(...) raised TypeError: ...``: the call of the implementation that raised ``error``."""
        call = next((str(call) for call, e in reversed(self.guard.raised) if e is error), "a call")
        return f"{call} raised {described(error)}"


# --- calls ----------------------------------------------------------------------------------------


def _answer(impl: Implementation, x: np.ndarray, p: object, *, training: bool, seed: int) -> np.ndarray:
    """``dropout(x, p)``'s answer, laid out as x. The call is handed x as one row, of shape (1, n): a
    batch of one, which every dropout takes, where some take nothing of rank below 2 (PaddlePaddle's
    ``downscale_in_infer`` in evaluation, a measured deviation of its own); the answer must be a numpy
    array of that shape and x's format (Failed otherwise)."""
    row = x.reshape(1, -1)
    y = impl.dropout(row, p, training=training, seed=seed)
    wrong = array_like(f"dropout(x: {x.dtype.name} {row.shape}, p={p!r}, training={training})", y, row)
    if wrong:
        raise Failed(wrong[0])
    return y.reshape(x.shape)


@contextmanager
def _refusal(probing: Probing, refusals: list[str]) -> Iterator[None]:
    """Inside, an exception of the implementation is a refusal, appended to ``refusals`` as the call
    that raised it; a call that fails (no answer in time, an exit) still stops the probe."""
    try:
        yield
    except Failed as error:
        refusals.append(str(error))
    except Exception as error:  # noqa: BLE001  (a foreign implementation's error type is its own)
        refusals.append(probing.raised(error))


def _refuses(probing: Probing, call: Callable[[], object]) -> str | None:
    """The refusal of ``call()`` (the call and what it raised), None when it answers."""
    refusals: list[str] = []
    with _refusal(probing, refusals):
        call()
    return refusals[0] if refusals else None


def _values(y: np.ndarray) -> list[float]:
    return np.asarray(y, dtype=np.float64).ravel().tolist()


def _finite(probing: Probing, name: str, dtype: DType) -> np.ndarray:
    """SIZE finite values of ``dtype``: its edges, then ±(1 + f) 2^k over 25 binades (kit.edged_array)."""
    return edged_array(probing.seed_of(name), (SIZE,), dtype)


# --- the probes -----------------------------------------------------------------------------------


def probe_dtypes(impl: Implementation, probing: Probing) -> tuple[object, str]:
    """Rule: a format is accepted when a training call at p = 0.3 and an evaluation call of 64 of its
    values both answer with an array of x's shape in that format; any other answer, an exception or
    an exit included, refuses it (a call that does not return in time stops the probe).
    Found: the accepted formats, in the order float64, float32, float16, bfloat16."""
    accepted, refused = [], []
    for name in FLOATING_FORMATS:
        if name not in NUMPY_FORMATS:
            refused.append(f"{name} not tried: numpy cannot hold it here (pip install ml_dtypes)")
            continue
        x = edged_array(probing.seed_of("dtypes"), (64,), get_dtype(name))
        before = len(refused)
        for training in (True, False):
            try:
                with _refusal(probing, refused):
                    _answer(impl, x, PROBE_RATE, training=training, seed=probing.seed_of("dtypes"))
            except CallTimedOut:
                raise  # a call that never returns says nothing about the format, and would not for the next
            except CallFailed as failure:  # an answer of another shape or format (RUNNER-8), an exit
                refused.append(str(failure))
            if len(refused) > before:
                break
        else:
            accepted.append(name)
    if not accepted:
        raise Failed("no floating format was accepted: " + "; ".join(refused))
    evidence = f"answered in kind in {', '.join(accepted)}"
    return tuple(accepted), evidence + (f"; refused {'; '.join(refused)}" if refused else "")


def probe_scaling(impl: Implementation, probing: Probing) -> tuple[object, str]:
    """Rule (DROPOUT-2), at p = 0.3 in the first accepted format: evaluation of SIZE finite values
    returns x bit for bit, or q x within one ulp (q as some scale_format computes it); training of SIZE
    ones keeps 1/q (within one ulp of it under some scale_format) or 1. Inverted is (x, 1/q); classic
    is (q x, 1); any other pair, such as evaluation x with a kept 1 (E[y] = q x, not x), is no allowed
    value."""
    dtype = probing.dtypes[0]
    p = PROBE_RATE
    seed = probing.seed_of("scaling")
    x = _finite(probing, "scaling", dtype)
    values = _values(x)
    evaluated = _values(_answer(impl, x, p, training=False, seed=seed))
    scaled = [[eval_value(Policies(scaling="classic", scale_format=f), v, p, dtype) for f in FORMATS] for v in values]
    if np.array_equal(np.asarray(evaluated).view(np.uint64), np.asarray(values).view(np.uint64)):
        evaluation = "x"
    elif all(any(within_one_ulp(got, w, dtype) for w in ws) for got, ws in zip(evaluated, scaled)):
        evaluation = "q x"
    else:
        i = next(i for i, (got, ws) in enumerate(zip(evaluated, scaled))
                 if not any(within_one_ulp(got, w, dtype) for w in ws))
        evaluation = f"neither x nor q x (x = {values[i]!r} gave {evaluated[i]!r})"
    ones = np.ones(SIZE, dtype=NUMPY_FORMATS[dtype.name])
    kept = sorted({v for v in _values(_answer(impl, ones, p, training=True, seed=seed)) if v != 0.0})
    inverse = [kept_value(Policies(scale_format=f), 1.0, p, dtype) for f in FORMATS]
    if kept and all(any(within_one_ulp(v, w, dtype) for w in inverse) for v in kept):
        training = "1/q"
    elif kept == [1.0]:
        training = "1"
    else:
        training = f"neither 1/q nor 1 (kept {kept[:3]!r})" if kept else "nothing kept"
    evidence = f"{dtype.name}, p = {p}: evaluation of x gave {evaluation}; training of ones kept {training}"
    value = {("x", "1/q"): "inverted", ("q x", "1"): "classic"}.get((evaluation, training))
    return value, evidence


def probe_scale_format(impl: Implementation, probing: Probing) -> tuple[object, str]:
    """Rule (DROPOUT-8's, and DROPOUT-7's under classic scaling): outputs of SIZE finite values at each
    p of RATES in every accepted format, in training (each nonzero output a kept element, against its
    kept value x / q) or, under classic scaling, whose kept value is x, in evaluation (each output
    against q x). Found: the first of "exact", "input", "float32", "float32_reciprocal" under which every
    output is within one ulp of what that format's q makes of it (the default first: where several hold,
    nothing needs declaring)."""
    training = probing.needs("scaling") != "classic"
    scaling, expected = ("inverted", kept_value) if training else ("classic", eval_value)
    outside: Counter[str] = Counter()
    first: dict[str, str] = {}
    kept = 0
    seed = probing.seed_of("scale_format")
    for dtype in probing.dtypes:
        x = _finite(probing, "scale_format", dtype)
        values = _values(x)
        for p in RATES:
            y = _values(_answer(impl, x, p, training=training, seed=seed))
            for v, got in zip(values, y):
                if (training and got == 0.0) or v == 0.0:
                    continue
                kept += 1
                for value in FORMATS:
                    if not within_one_ulp(got, expected(Policies(scaling=scaling, scale_format=value), v, p, dtype),
                                          dtype):
                        outside[value] += 1
                        first.setdefault(value, f"{dtype.name}, p = {p}: x = {v!r} gave {got!r}")
    shown = "; ".join(f"{value}: {outside[value]:,} outside" + (f" (first: {first[value]})" if value in first else "")
                      for value in FORMATS)
    value = next((v for v in FORMATS if not outside[v]), None)
    what = "kept values against each format's kept value" if training else "evaluations against each format's q x"
    return value, f"{kept:,} {what} within one ulp: {shown}"


def _subnormal_classes(dtype: DType) -> dict[str, float]:
    smallest = dtype.tiny  # the smallest positive subnormal
    largest = math.ldexp(1.0, dtype.emin) - smallest
    return {"+smallest": smallest, "-smallest": -smallest, "+largest": largest, "-largest": -largest}


def probe_subnormals(impl: Implementation, probing: Probing) -> tuple[object, str]:
    """Rule (DROPOUT-2), in every accepted format: a training call at p = 2^-20 on SUBNORMAL_COPIES
    each of ±the smallest and ±the largest subnormal. A class of which at least half the elements give
    ±0 is flushed: an implementation that keeps subnormals drops that many with probability below
    C(1024, 512) 2^-10240 < 2^-9216. Found: "flushed" when some class of some format is flushed,
    "kept" otherwise."""
    flushed = []
    seed = probing.seed_of("subnormals")
    for dtype in probing.dtypes:
        classes = _subnormal_classes(dtype)
        x = np.repeat(np.array(list(classes.values())), SUBNORMAL_COPIES).astype(NUMPY_FORMATS[dtype.name])
        zeros = (_answer(impl, x, SUBNORMAL_RATE, training=True, seed=seed) == 0).reshape(len(classes), -1).sum(axis=1)
        flushed += [f"{dtype.name} {name} ({int(count)} of {SUBNORMAL_COPIES} gave 0)"
                    for name, count in zip(classes, zeros) if count >= SUBNORMAL_COPIES // 2]
    if flushed:
        return "flushed", "subnormals became ±0: " + ", ".join(flushed)
    return "kept", f"every class of subnormals kept in {', '.join(d.name for d in probing.dtypes)}, p = 2^-20"


def probe_p_one(impl: Implementation, probing: Probing) -> tuple[object, str]:
    """Rule (DROPOUT-5, DROPOUT-7), in every accepted format, on SIZE finite values: a training call at
    p = 1 raises, or gives ±0 everywhere; an evaluation call at p = 1 raises or answers. "zeros": every
    training call gave zeros and no evaluation call raised; "refused": every training call raised.
    Anything else (NaN from x / 0, zeros in one format and a refusal in another, an evaluation
    refusal beside training zeros) is no allowed value."""
    seed = probing.seed_of("p_one")
    outcomes = []
    for dtype in probing.dtypes:
        x = _finite(probing, "p_one", dtype)
        refused = _refuses(probing, lambda: _answer(impl, x, 1.0, training=True, seed=seed))
        if refused is not None:
            training = "raised"
        else:
            y = _values(_answer(impl, x, 1.0, training=True, seed=seed))
            i = next((i for i, got in enumerate(y) if got != 0.0), None)
            training = "zeros" if i is None else f"x = {_values(x)[i]!r} gave {y[i]!r}"
        evaluation = _refuses(probing, lambda: _answer(impl, x, 1.0, training=False, seed=seed))
        outcomes.append((dtype.name, training, evaluation is not None))
    grouped: dict[str, list[str]] = {}
    for name, training, raised in outcomes:
        grouped.setdefault(f"training {training}, evaluation {'raised' if raised else 'answered'}", []).append(name)
    evidence = "; ".join(f"{what} in {', '.join(names)}" for what, names in grouped.items())
    trainings = {training for _, training, _ in outcomes}
    if trainings == {"raised"}:
        return "refused", evidence
    if trainings == {"zeros"} and not any(raised for *_, raised in outcomes):
        return "zeros", evidence
    return None, evidence


NONFINITE = (math.nan, math.inf, -math.inf)
NONFINITE_COPIES = 200  # of each; at p = 0.3 no infinity is dropped with probability 0.7^400 < 1e-61


def _outcome(v: float, got: float) -> tuple[str, str]:
    """(input, output): "NaN" or "inf" (±inf) in; "NaN", "inf" (v itself), "0" or "other" out."""
    out = "NaN" if got != got else "0" if got == 0.0 else "inf" if got == v else "other"
    return "NaN" if v != v else "inf", out


class _Tally:
    """Outcomes counted by what they were, with the formats they were seen in."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.formats: dict[str, list[str]] = {}

    def add(self, what: str, dtype: DType) -> None:
        self.counts[what] += 1
        formats = self.formats.setdefault(what, [])
        if dtype.name not in formats:
            formats.append(dtype.name)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def __str__(self) -> str:
        return ", ".join(f"{what} ({count} in {', '.join(self.formats[what])})" for what, count in self.counts.items())


def probe_nonfinite(impl: Implementation, probing: Probing) -> tuple[object, str]:
    """Rule (DROPOUT-10), in every accepted format, on NONFINITE_COPIES each of NaN, +inf and -inf: at
    p = 1 (unless it raises) every element is dropped, so NaN out is "multiply" and 0 out is "select";
    at p = 0.3 an infinity out as NaN is "multiply", a NaN or infinity out as 0 is "select", and a
    kept NaN and a kept infinity must both occur. Found: the one policy seen; both seen (mixed), an
    output neither gives, or no kept NaN or infinity is no allowed value."""
    seed = probing.seed_of("nonfinite")
    seen = {"multiply": _Tally(), "select": _Tally()}
    other = _Tally()
    kept: set[tuple[str, str]] = set()
    refused_p_one = []
    for dtype in probing.dtypes:
        x = np.repeat(np.array(NONFINITE), NONFINITE_COPIES).astype(NUMPY_FORMATS[dtype.name])
        for p in (1.0, PROBE_RATE):
            if p == 1.0 and _refuses(probing, lambda: _answer(impl, x, 1.0, training=True, seed=seed)) is not None:
                refused_p_one.append(dtype.name)
                continue
            for pair in map(_outcome, _values(x), _values(_answer(impl, x, p, training=True, seed=seed))):
                what = f"{pair[0]} -> {pair[1]} at p = {p:g}"
                if pair[1] == "0":
                    seen["select"].add(what, dtype)
                elif pair == ("inf", "NaN") or (p == 1.0 and pair == ("NaN", "NaN")):
                    seen["multiply"].add(what, dtype)
                elif p < 1.0 and pair in (("NaN", "NaN"), ("inf", "inf")):
                    kept.add(pair)
                else:
                    other.add(what, dtype)
    evidence = "; ".join(f"{policy}: {tally}" for policy, tally in seen.items() if tally)
    evidence = evidence or "no dropped NaN or inf seen"
    if refused_p_one:
        evidence += f"; p = 1 raised in {', '.join(refused_p_one)}"
    if other:
        return None, f"outputs neither policy gives: {other}; {evidence}"
    missing = {("NaN", "NaN"), ("inf", "inf")} - kept
    if missing:
        return None, f"no kept {' or '.join(sorted(i for i, _ in missing))} at p = {PROBE_RATE}; {evidence}"
    policies = [policy for policy, tally in seen.items() if tally]
    return (policies[0] if len(policies) == 1 else None), evidence


def _accepted(probing: Probing, impl: Implementation, x: np.ndarray, training: bool) -> list[object]:
    """The rates of BAD_RATES that a call in ``training`` mode accepts (answers instead of raising)."""
    seed = probing.seed_of("p_validation")
    return [p for p in BAD_RATES
            if _refuses(probing, lambda p=p: _answer(impl, x, p, training=training, seed=seed)) is None]


def probe_p_validation(impl: Implementation, probing: Probing) -> tuple[object, str]:
    """Rule (DROPOUT-3): each rate of DROPOUT-3's list (-0.1, -5e-324, 1 + 2^-52, 1.5, ±inf, NaN, True,
    False, "0.5", None, 0.5j) in training and in evaluation on 4 ones of the first accepted format;
    an answer accepts it. Found: the first of "strict" (nothing accepted), "bool_as_number" (only True
    and False accepted), "training_only" (nothing accepted in training) and
    "bool_as_number+training_only" (only True and False accepted in training) that allows every
    acceptance; a real rate that rounds into [0, 1] in binary32 counts as refused where scale_format
    reads p as a float32. Acceptances no value allows (NaN in training) are no allowed value."""
    in_float32 = str(probing.found.get("scale_format")).startswith("float32")
    x = np.ones(4, dtype=NUMPY_FORMATS[probing.dtypes[0].name])

    def unexplained(rates: list[object]) -> list[object]:
        return [p for p in rates if not (in_float32 and isinstance(p, float) and 0.0 <= float32.round(p) <= 1.0)]

    training, evaluation = (unexplained(_accepted(probing, impl, x, mode)) for mode in (True, False))
    evidence = (f"accepted in training: {', '.join(map(repr, training)) or 'none'}; "
                f"in evaluation: {', '.join(map(repr, evaluation)) or 'none'}")
    if in_float32:
        evidence += "; rates that round into [0, 1] in binary32 not counted (scale_format float32)"
    both = training + evaluation
    if not both:
        return "strict", evidence
    if all(isinstance(p, bool) for p in both):
        return "bool_as_number", evidence
    if not training:
        return "training_only", evidence
    if all(isinstance(p, bool) for p in training):
        return "bool_as_number+training_only", evidence
    return None, evidence


def probe_seed_bits(impl: Implementation, probing: Probing) -> tuple[object, str]:
    """Rule (DROPOUT-12, DROPOUT-13): training outputs of SIZE ones at p = 0.5 in the first accepted
    format, with the seeds s, s again, s ^ 2^0, s ^ 2^31 and s ^ 2^32, compared bit for bit. Two
    independent masks are identical with probability 2^-4096. Found: 64 when every flip changes the
    output, 32 when only the flip of bit 32 leaves it identical; the same seed giving another output,
    or a flip of bit 0 or 31 giving the same one (fewer than 32 bits used), is no allowed value."""
    dtype = probing.dtypes[0]
    s = probing.seed_of("seed_bits")
    x = np.ones(SIZE, dtype=NUMPY_FORMATS[dtype.name])

    def output(seed: int) -> bytes:
        return _answer(impl, x, SEED_RATE, training=True, seed=seed).tobytes()

    first = output(s)
    if output(s) != first:
        return None, f"{dtype.name}: the same seed gave two different outputs: the seed does not fix the mask"
    same = [bit for bit in SEED_BITS if output(s ^ (1 << bit)) == first]

    def bits(chosen: list[int]) -> str:
        return ", ".join(map(str, chosen)) or "none"

    evidence = (f"{dtype.name}, {SIZE} ones at p = {SEED_RATE}, seed s = {s}: flipping bit {bits(same)} of s gave"
                f" the same output, flipping bit {bits([b for b in SEED_BITS if b not in same])} another")
    return {(): 64, (32,): 32}.get(tuple(same)), evidence


# every probe, in the order they run: a later one may use what an earlier one found
PROBES: dict[str, Callable[[Implementation, Probing], tuple[object, str]]] = {
    "dtypes": probe_dtypes,
    "scaling": probe_scaling,
    "scale_format": probe_scale_format,
    "subnormals": probe_subnormals,
    "p_one": probe_p_one,
    "nonfinite": probe_nonfinite,
    "p_validation": probe_p_validation,
    "seed_bits": probe_seed_bits,
}


def _declared(impl: Implementation, name: str) -> object:
    if name == "dtypes":
        return tuple(d.name for d in dtypes_of(impl))
    return getattr(policies_of(impl), name)


def _finding(name: str, impl: Implementation, probing: Probing) -> Finding:
    """One probe's finding; a call that failed, or an exception of the implementation where it must
    answer, is FAILED naming the call (as runner.escaped blames it), any other exception ERROR."""
    declared = _declared(impl, name)
    guard = probing.guard
    try:
        value, evidence = PROBES[name](guard.view(impl), probing)
    except NotMeasured as reason:
        return Finding(name, Status.NOT_MEASURED, evidence=str(reason), declared=declared)
    except (Failed, CallFailed) as failure:
        return Finding(name, Status.FAILED, evidence=str(failure), declared=declared)
    except Exception as error:  # noqa: BLE001  (whatever a foreign implementation or a probe raises)
        verdict, trace = escaped(name, error, guard.raised)
        status = Status.FAILED if verdict.outcome is Outcome.FAIL else Status.ERROR
        return Finding(name, status, evidence=verdict.detail, declared=declared,
                       trace=trace or "".join(traceback.format_exception(error)) * (status is Status.ERROR))
    probing.found[name] = value
    return Finding(name, Status.FOUND if value is not None else Status.NONE, value, evidence, declared)


def probe_target(name: str, impl: Implementation, *, seed: int = 0, watch: Watch | None = None,
                 versions: dict | Callable[[set[str]], dict] | None = None,
                 progress: Callable[[int, int, str], None] | None = None) -> Probe:
    """Probe ``impl`` with every probe of PROBES, in order, under the guard ``watch`` describes (the
    default time limit when None); SIGINT or SIGTERM under guard.interruptible ends it with the
    findings so far. ``progress(i, total, probe)`` is told before each probe and at the end. ``versions``:
    as run_target's (a callable is asked once the probes have run)."""
    start = time.perf_counter()
    findings: list[Finding] = []
    interrupted = None
    try:
        with Guard(watch or Watch()) as guard:
            probing = Probing(seed, guard)
            for i, probe in enumerate(PROBES):
                if progress is not None:
                    progress(i, len(PROBES), probe)
                with guard.clause():
                    findings.append(_finding(probe, impl, probing))
            if progress is not None:
                progress(len(PROBES), len(PROBES), "")
    except Interrupted as stop:
        interrupted = stop.signal
    versions = versions(guard.imports.appeared) if callable(versions) else versions
    return Probe(name, seed, tuple(findings), time.perf_counter() - start, versions or {}, interrupted)
