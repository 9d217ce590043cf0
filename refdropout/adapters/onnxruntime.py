"""ONNX Runtime as a conformance target: a one-node ONNX ``Dropout`` model run on the CPU.

The model is built in memory with ``onnx.helper``: one ``Dropout`` node (opset 13) with inputs
``data``, ``ratio`` (a float64 scalar, so p reaches the runtime as exactly as the model allows) and
``training_mode``, its ``seed`` attribute, and outputs ``output`` and ``mask``. It gives the
``dropout``, ``dropout_with_mask`` (the model's own mask output) and ``dropout_stream`` capabilities.
ONNX Runtime's inference package has no gradient of Dropout: there is no VJP capability.

Randomness. The seed is an attribute, so a model is made per seed, and a session is stateful: the
CPU kernel keeps a counter started at the seed and seeds ``std::default_random_engine`` (libstdc++'s
``minstd_rand0``, modulus 2^31 - 1) with its next value at every run. A session is therefore a
stream (:meth:`OnnxRuntimeDropout.dropout_stream`), and a seeded call is a session's run with its
counter at that seed: a fresh session's first run, or the next run of the session that last drew
with seed - 1 (measured: run k of a session seeded s draws as the first run of one seeded s + k;
evaluation and p = 0 draw nothing). Checks call with consecutive seeds s, s + 1, ..., so that reuse
spares most sessions; a session started anew (one intra-op thread) takes about 0.3 ms. Caching a
session per seed instead would make a second call with that seed draw the next mask. A seed in
[0, 2^64) is passed as the int64 of the same 64 bits; the runtime keeps it modulo 2^31 - 1 (0 and 1
coincide), and the first draws of consecutive seeds are nearly equal; minstd_rand0 being
multiplicative, seeds a multiple of one another once reduced draw dependent masks throughout.

Behaviour measured with onnxruntime 1.32 on the CPU, declared as policies where the spec allows
a choice: inverted scaling, y = x m / q32 with q32 = fl32(1 - fl32(p)), q computed in float32
from p rounded to float32 (the kernel reads ``ratio`` as a float whatever its type: scale_format
"float32", measured: a float64 kept value is x / q32 correctly rounded); a dropped NaN or ±inf
becomes NaN ("multiply"); every p outside [0, 1), p = 1 and NaN included, raises — in evaluation
too, since the ratio is validated before ``training_mode`` is read (p_one "refused"); evaluation
and p = 0 return x bit for bit. The seed counter makes successive runs of a session draw
correlated masks: KNOWN_DEVIATIONS.
float64, float32 and float16 are supported; bfloat16 has no CPU kernel. The module imports
onnxruntime and onnx only when an adapter is made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..contract import Policies
from ..contract.arrays import NUMPY_FORMATS, as_array, in_kind
from ..tensor import Tensor
from . import INSTALL as COMMANDS
from . import import_framework

__all__ = ["OnnxRuntimeDropout", "INSTALL", "KNOWN_DEVIATIONS"]

INSTALL = COMMANDS["onnxruntime"]
OPSET = 13
INT64_BOUND = 2**63

# clause -> what ONNX Runtime does that the spec forbids and no policy allows
KNOWN_DEVIATIONS: dict[str, str] = {
    "DROPOUT-13": "seeds are kept modulo 2^31 - 1 by minstd_rand0, which is multiplicative: seeds 0 and 2^32 "
                  "become 1 and 2, 2^32 - 1 and 2^64 - 1 become 1 and 3, so each draw of one is 2 (3) times the "
                  "other's modulo 1 (masks correlated 0.28 and 0.05 over 100,000 elements), and seeds s and "
                  "s + 2^32, 2 apart once reduced, draw nearly equal first uniforms",
    "DROPOUT-14": "a session's successive runs draw with seeds s, s + 1, ... of minstd_rand0, whose first "
                  "draws are nearly equal: the masks of successive calls are correlated",
    "DROPOUT-18": "the first draws of consecutive seeds are nearly equal, so over calls with seeds s, s + 1, "
                  "... the positions keep at different rates",
    "ENSEMBLE-6": "successive runs of one session are correlated: the variance of Monte Carlo averages is "
                  "a fifth of sigma^2 / T, not sigma^2 / T",
}


def _int64(seed: int) -> int:
    """The int64 with the 64 bits of ``seed`` in [0, 2^64): the seed attribute is an int64."""
    return seed - 2**64 if seed >= INT64_BOUND else seed


def _ratio(p: object) -> np.ndarray:
    """p as the ``ratio`` feed: a number becomes a float64 scalar; anything else (a bool, a string)
    is fed as numpy reads it, for the runtime's type check to refuse as it refuses any mistyped input."""
    ratio = np.asarray(p)
    return ratio.astype(np.float64) if ratio.dtype.kind in "iuf" else ratio


class OnnxRuntimeDropout:
    """ONNX ``Dropout`` (opset 13) in an onnxruntime CPU session behind the conformance protocol."""

    name = "onnxruntime"
    framework = "onnxruntime"
    dtypes = ("float64", "float32", "float16")
    policies = Policies(scaling="inverted", nonfinite="multiply", p_one="refused", scale_format="float32")
    known_deviations = KNOWN_DEVIATIONS

    def __init__(self) -> None:
        self._ort = import_framework("onnxruntime", target=self.name, install=INSTALL)
        self._onnx = import_framework("onnx", target=self.name, install=INSTALL)
        self._options = self._ort.SessionOptions()
        self._options.intra_op_num_threads = 1  # a thread pool per session would cost ~40 ms to start
        self._options.log_severity_level = 4  # a refused ratio raises; the runtime need not also log it
        self._drawn: dict[str, tuple[int, Any]] = {}  # dtype -> (the seed its next run draws with, session)

    def _session(self, dtype: str, seed: int) -> Any:
        """A fresh session of the one-node model for data of ``dtype`` with the ``seed`` attribute."""
        helper, types = self._onnx.helper, self._onnx.TensorProto
        elem = helper.np_dtype_to_tensor_dtype(NUMPY_FORMATS.get(dtype) or np.dtype(dtype))
        node = helper.make_node("Dropout", ["data", "ratio", "training_mode"], ["output", "mask"], seed=_int64(seed))
        graph = helper.make_graph(
            [node], "dropout",
            [helper.make_tensor_value_info("data", elem, None),
             helper.make_tensor_value_info("ratio", types.DOUBLE, []),
             helper.make_tensor_value_info("training_mode", types.BOOL, [])],
            [helper.make_tensor_value_info("output", elem, None),
             helper.make_tensor_value_info("mask", types.BOOL, None)],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
        return self._ort.InferenceSession(model.SerializeToString(), self._options,
                                          providers=["CPUExecutionProvider"])

    @staticmethod
    def _run(session: Any, x: Tensor, p: float, training: bool) -> tuple[Tensor, Tensor]:
        """(output, mask) of one run of ``session`` on x, in x's kind (numpy arrays or engine tensors)."""
        output, mask = session.run(None, {"data": as_array(x), "ratio": _ratio(p),
                                          "training_mode": np.array(bool(training))})
        return in_kind(output, x), in_kind(mask, x)

    def _seeded(self, x: Tensor, p: float, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        """(output, mask) of a run drawing with ``seed``: on the last session that drew for x's dtype
        when its counter has reached ``seed``, else on a fresh one; a run that drew (training at
        0 < p < 1 as the kernel reads p, in float32) leaves its session's counter at seed + 1."""
        dtype, start = x.dtype.name, _int64(seed)
        counter, session = self._drawn.pop(dtype, (None, None))
        if counter != start:
            session = self._session(dtype, seed)
        result = self._run(session, x, p, training)
        if training and 0.0 < np.float32(p) < 1.0:
            self._drawn[dtype] = (start + 1, session)
        return result

    # ---- spec/dropout.md ------------------------------------------------------------------------

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return self._seeded(x, p, training, seed)[0]

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        """The output and the model's ``mask`` output, from one training run."""
        return self._seeded(x, p, True, seed)

    def integer_dropout(self, values: list[int], p: float, *, training: bool, seed: int) -> list:
        """A run of the one-node model typed for int32 data (its session refuses it, or runs it)."""
        session = self._session("int32", seed)
        output, _ = session.run(None, {"data": np.asarray(values, dtype=np.int32), "ratio": _ratio(p),
                                       "training_mode": np.array(bool(training))})
        return output.tolist()

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        """Successive runs of one session per dtype seeded with ``seed``: each run advances its counter."""
        sessions: dict[str, Any] = {}

        def call(x: Tensor, p: float, *, training: bool) -> Tensor:
            dtype = x.dtype.name
            if dtype not in sessions:
                sessions[dtype] = self._session(dtype, seed)
            return self._run(sessions[dtype], x, p, training)[0]

        return call
