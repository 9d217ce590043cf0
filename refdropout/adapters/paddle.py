"""PaddlePaddle as a conformance target: ``paddle.nn.functional.dropout``, its channel and alpha
dropout and ``nn.Dropout`` behind the protocol.

Target ``paddle`` (:class:`PaddleDropout`) is ``F.dropout`` with ``mode="upscale_in_train"``, the
default and the spec's inverted scaling; target ``paddle-classic`` (:class:`PaddleClassicDropout`) is
the same with ``mode="downscale_in_infer"``, the spec's classic scaling (training keeps x, evaluation
is q x, q in float32 as in training's 1/q: scale_format "float32"), whose evaluation refuses input of
rank 0 or 1, a measured known deviation of the clauses that evaluate a vector. Covered:
``nn.Dropout(p, mode=...)`` in ``nn.Sequential`` (spec/modes.md), ``dropout1d/2d/3d`` (channel
dropout), ``alpha_dropout`` and ``feature_alpha_dropout`` (which have no mode: target ``paddle``'s
only), the VJP by autograd, a stream of calls, and ``axis`` (the axes the mask is drawn over, shared
along the rest) as the noise shape, and ``F.scaled_dot_product_attention(..., dropout_p=p)`` as a fused
attention kernel (on the CPU its "math" kernel, in float64 and float32: the others have no CPU kernel),
and Monte Carlo dropout of a float64 ``nn.Sequential`` (``nn.BatchNorm1D`` among its layers for
ENSEMBLE-10, switched by ``eval()`` and then ``train()`` on the ``nn.Dropout`` layers).

Policies, as measured on the CPU (PaddlePaddle 3.3.1) by ``refdropout probe paddle`` and by hand:
inverted scaling with q computed in float32 (a float64 kept value is x / fl32(q): scale_format
"float32"); a dropped NaN or ±inf becomes 0 ("select"); p = 1 gives zeros; the generator keeps the
low 32 bits of a seed (seed_bits 32); subnormals kept; ``refdropout probe paddle-classic`` finds the
same with classic scaling. KNOWN_DEVIATIONS lists what no policy allows.

Randomness. Paddle's dropout draws from the global generator. Every seeded call therefore runs
against a state of its own (:class:`_Seeded`), as the torch target's: the generator is seeded with
``paddle.seed(seed)``, its state kept (``paddle.get_rng_state``), and the caller's state put back
afterwards (``paddle.set_rng_state``). A stream or a module keeps its state between calls.

The module imports paddle only when an adapter is made.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..contract import Policies
from ..contract.arrays import DTYPES, NUMPY_FORMATS, as_array, in_kind
from ..nn.mc import MCPrediction
from ..tensor import Tensor
from ..theory import Network
from . import INSTALL as COMMANDS
from . import import_framework
from .held import HeldState
from .layer import ModuleLayer

__all__ = ["PaddleDropout", "PaddleClassicDropout", "INSTALL", "KNOWN_DEVIATIONS"]

INSTALL = COMMANDS["paddle"]
# Measured (PaddlePaddle 3.3.1, TensorFlow 2.21, CPU wheels): `import tensorflow; import paddle` ends the
# process with SIGSEGV, while `import paddle; import tensorflow` works and both run. The adapter refuses to
# import paddle after tensorflow rather than let the whole run crash (`refdropout check paddle tensorflow` and
# the default matrix order load paddle first; refdropout.adapters.TARGETS lists it before tensorflow).
AFTER_TENSORFLOW = ("paddle cannot be imported into a process that has imported tensorflow (PaddlePaddle 3.3.1 "
                    "with TensorFlow 2.21 crashes with SIGSEGV); check paddle in its own process or before tensorflow")
SEEDS = 2**64  # a seed is an integer in [0, 2^64)

# target -> clause -> what Paddle does that the spec forbids and no policy allows
# measured with PaddlePaddle 3.3.1 (CPU wheel) by `refdropout check paddle --profile quick` (seed 0) and by hand:
#   F.dropout(paddle.ones([4], dtype="float64"), float("nan"))  -> [nan nan nan nan]; p = True -> zeros
#   F.dropout(paddle.ones([2, 3]), 0.3, axis=[])                -> ValueError: min() arg is an empty sequence
#   x.grad of F.dropout(float64 ones, 0.2)                       -> 1.24999998 (1 / fl32(0.8)): the declared
#                                                                   scale_format "float32", which GRADIENTS-1/5 honour
#   F.dropout1d(paddle.ones([6, 2, 2]), 0.3)                     -> the same channel mask for all 6 samples
KNOWN_DEVIATIONS: dict[str, dict[str, str]] = {"paddle": {
    "DROPOUT-3": "p = NaN is accepted (every element NaN), and True and False are taken as 1 and 0 in evaluation "
                 "too, while NaN passes the range check `p < 0 or p > 1`",
    "DROPOUT-11": "`axis` cannot express a noise shape of all ones (one mask value for the whole call): axis=[] "
                  "raises ValueError: min() arg is an empty sequence",
    "VARIANTS-3": "dropout1d is dropout(x, p, axis=1): one channel mask drawn for the whole batch and shared by "
                  "every sample, not one per (sample, channel)",
    # measured by hand (PaddlePaddle 3.3.1, CPU): F.dropout2d(paddle.ones([2, 2, 3, 1], dtype="float16"), 0.3),
    # F.alpha_dropout and F.feature_alpha_dropout of a float16 tensor raise; found by the generated cases
    "VARIANTS-1": "dropout1d/2d/3d of a float16 x in training raise RuntimeError: the CPU kernel `multiply` is not "
                  "registered for float16",
    "VARIANTS-2": "as VARIANTS-1: an unbatched float16 x in training raises RuntimeError (no float16 `multiply`)",
    # measured by hand (PaddlePaddle 3.3.1, CPU): F.alpha_dropout(x, 1.0) of x = [nan, inf, -inf, -3.25, 0] gives
    # [nan, nan, nan, 0, 0] in float64, float32, float16 and bfloat16 (`if p == 1: return paddle.scale(x, 0.0)`),
    # where F.dropout(x, 1.0) gives [0, 0, 0, 0, 0] (found by the clause's fixed case at p = 1); F.alpha_dropout(x,
    # 0.3) raises in float16 (`subtract`) and bfloat16 (`add`); F.alpha_dropout(x, 0.0) of x = -0.0 gives 0.0 in
    # float64 and float32 (found by `refdropout check paddle --clause VARIANTS-4 --dtypes float64,float32 --policy
    # nonfinite=multiply`, quick, seed 0, which the failures above hide)
    "VARIANTS-4": "alpha_dropout at p = 1 computes x · 0 (paddle.scale(x, scale=0.0)): NaN for NaN and ±inf, where "
                  "the declared nonfinite = \"select\" of its dropout (a dropped NaN or ±inf gives 0) requires 0; "
                  "in training at 0 < p < 1 a float16 x raises RuntimeError (the CPU kernel `subtract` is not "
                  "registered for float16) and a bfloat16 x too (no bfloat16 `add`); and in training at p = 0 it "
                  "computes a x + b with a = 1, b = 0, not x: -0.0 gives 0.0",
    # measured by hand (PaddlePaddle 3.3.1, CPU): F.feature_alpha_dropout(x, 1.0) of x of shape (3, 2, 1) = [nan,
    # inf, -inf, -3.25, 0, 2] gives [nan, nan, nan, 0, 0, 0] in float64, float32, float16 and bfloat16
    # (_feature_alpha_dropout_impl: `if p == 1: return paddle.scale(x, scale=0.0)`) where F.dropout(x, 1.0) gives
    # zeros (found by the clause's fixed case at p = 1); at p = 0.3 float16 raises (`subtract`) and bfloat16 too
    # (`add`); F.feature_alpha_dropout(x, 0.0) of x = -0.0 (float64) gives 0.0 (found by `refdropout check paddle
    # --clause VARIANTS-6 --dtypes float64,float32 --profile standard --seed 0` before the p = 1 case was checked)
    "VARIANTS-6": "feature_alpha_dropout at p = 1 computes x · 0 (paddle.scale(x, scale=0.0)): NaN for NaN and "
                  "±inf, where the declared nonfinite = \"select\" of its dropout requires 0 (as VARIANTS-4); in "
                  "training at 0 < p < 1 a float16 x raises RuntimeError (no float16 `subtract`) and a bfloat16 x "
                  "too (no bfloat16 `add`); and in training at p = 0 it computes a x + b, not x: -0.0 gives 0.0",
    # measured (PaddlePaddle 3.3.1, commit 7688495, CPU) by `refdropout check paddle --profile standard --seed 0
    # --clause GRADIENTS-2` (a generated case: bfloat16, g = NaN, p = 1, eval) and by hand: paddle.grad of
    # F.dropout(x, p, training=False) with x and g of bfloat16 bits [0x7FC0, 0xFFC0, 0x7F81, 0x7F80, 0x3F80], at
    # p = 0.2 and 1: the forward returns those bits, the gradient [0x7FFF, 0x7FFF, 0x7FFF, 0x7F80, 0x3F80];
    # float64, float32 and float16 keep every NaN's bits, and so does p = 0 (x itself, no backward op)
    "GRADIENTS-2": "the evaluation-mode VJP of a bfloat16 g is not g bit for bit: every NaN of g becomes 0x7FFF "
                   "(a -NaN loses its sign, a payload is replaced), as Paddle's CPU float-to-bfloat16 conversion "
                   "(cpu_float_to_bfloat16, phi/common/bfloat16.h) maps every NaN; numbers and ±inf are g's bits",
}}
# measured with PaddlePaddle 3.3.1 (CPU wheel) by `refdropout check paddle-classic --profile quick` (seed 0), by hand:
#   F.dropout(paddle.ones([4]), 0.3, training=False, mode="downscale_in_infer")   -> ValueError: (InvalidArgument)
#       Input dimension number(num_col_dims) must be between 0 and 1, but received number is 1 (phi eigen/common.h:102);
#       rank 0 alike, in every format; rank 2 and above give q x (q in float32), and so does the same call with axis
#       given (Paddle's Python path, paddle.scale), so the refusal is the C++ kernel's, not the adapter's
#   nn.Dropout(0.3, mode="downscale_in_infer").eval() on a vector              -> the same InvalidArgument
EVAL_RANK = ("in evaluation, mode='downscale_in_infer' refuses input of rank 0 or 1 (InvalidArgument: Input dimension "
             "number(num_col_dims) must be between 0 and 1, from Eigen in phi/kernels/funcs/eigen/common.h), F.dropout "
             "and nn.Dropout alike; rank 2 and above give q x")
KNOWN_DEVIATIONS["paddle-classic"] = {
    **{clause: KNOWN_DEVIATIONS["paddle"][clause] for clause in ("DROPOUT-3", "DROPOUT-11")},
    **dict.fromkeys(("DROPOUT-7", "DROPOUT-15", "ENSEMBLE-3", "GRADIENTS-2", "MODES-4", "MODES-7", "MODES-8",
                     "MODES-9"), EVAL_RANK),
}


class _Seeded(HeldState):
    """A state of Paddle's global generator, seeded once; ``with state:`` draws from it (adapters.held)."""

    def __init__(self, paddle: Any, seed: int) -> None:
        self.paddle = paddle
        caller = paddle.get_rng_state()
        paddle.seed(seed)
        super().__init__(paddle.get_rng_state())
        paddle.set_rng_state(caller)

    def read(self) -> Any:
        return self.paddle.get_rng_state()

    def write(self, state: Any) -> None:
        self.paddle.set_rng_state(state)

    def hook(self, layer: Any) -> Any:
        """``layer`` drawing from this state: entered before each forward, left after it."""
        layer.register_forward_pre_hook(lambda _layer, _args: self.__enter__() and None)
        layer.register_forward_post_hook(lambda _layer, _args, _out: self.__exit__())
        return layer


class PaddleDropout:
    """``F.dropout(x, p, training=..., mode="upscale_in_train")`` and Paddle's other dropout on the CPU."""

    name = "paddle"
    framework = "paddle"
    mode = "upscale_in_train"
    dtypes = DTYPES
    policies = Policies(nonfinite="select", seed_bits=32, scale_format="float32")
    known_deviations = KNOWN_DEVIATIONS["paddle"]
    mc_switches = "dropout"  # mc_predict_normalised's: eval() then train() on nn.Dropout; "every": model.train()

    def __init__(self) -> None:
        if "tensorflow" in sys.modules and "paddle" not in sys.modules:
            raise RuntimeError(AFTER_TENSORFLOW)
        self.paddle = import_framework("paddle", target=self.name, install=INSTALL)
        self.F = self.paddle.nn.functional

    # ---- arrays and seeds ------------------------------------------------------------------------

    def _tensor(self, x: Tensor | np.ndarray) -> Any:
        a = as_array(x)
        if a.dtype == NUMPY_FORMATS["bfloat16"]:
            return self.paddle.to_tensor(a.view(np.uint16)).view(self.paddle.bfloat16)
        return self.paddle.to_tensor(a)

    def _numpy(self, y: Any, like: object) -> Tensor | np.ndarray:
        a = y.detach().numpy()
        return in_kind(a.view(NUMPY_FORMATS["bfloat16"]) if y.dtype == self.paddle.bfloat16 else a, like)

    def _seeded(self, seed: int) -> _Seeded:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEEDS:
            raise ValueError(f"seed must be an integer in [0, 2^64), got {seed!r}")
        return _Seeded(self.paddle, seed)

    def _apply(self, op: Callable[[Any], Any], x: Tensor, seed: int) -> Tensor:
        t = self._tensor(x)
        with self._seeded(seed):
            return self._numpy(op(t), x)

    def _drop(self, t: Any, p: float, training: bool, axis: list[int] | None = None) -> Any:
        return self.F.dropout(t, p, axis=axis, training=training, mode=self.mode)

    # ---- spec/dropout.md and spec/gradients.md: F.dropout --------------------------------------------

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return self._apply(lambda t: self._drop(t, p, training), x, seed)

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        """The output and its keep mask, read off a call on ones with the same seed."""
        y = self.dropout(x, p, training=True, seed=seed)
        keep = self._apply(lambda t: self._drop(self.paddle.ones_like(t), p, True) != 0, x, seed)
        return y, keep

    def dropout_mask_bits(self, n: int, p: float, *, seed: int, dtype: str) -> np.ndarray:
        ones = self.paddle.ones([n], dtype=dtype)
        with self._seeded(seed):
            keep = self._drop(ones, p, True) != 0
        return np.packbits(keep.numpy(), bitorder="little")

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        leaf = self._tensor(x)
        leaf.stop_gradient = False
        with self._seeded(seed):
            y = self._drop(leaf, p, training)
        y.backward(self._tensor(g))
        return self._numpy(y, x), self._numpy(leaf.grad, g)

    def integer_dropout(self, values: list[int], p: float, *, training: bool, seed: int) -> list:
        t = self.paddle.to_tensor(values, dtype="int32")
        with self._seeded(seed):
            return self._drop(t, p, training).numpy().tolist()

    def dropout_noise_shape(self, x: Tensor, p: float, noise_shape: Sequence[int | None], *, training: bool,
                            seed: int) -> Tensor:
        """``axis``: the mask is drawn over the axes whose noise shape is the axis's size (None) and shared
        along those where it is 1."""
        if isinstance(noise_shape, str) or len(noise_shape) != len(x.shape):
            raise ValueError(f"noise_shape must have one entry per axis of x {x.shape}, got {noise_shape!r}")
        if any(m not in (None, 1, n) for m, n in zip(noise_shape, x.shape)):
            raise ValueError(f"noise_shape {noise_shape!r} does not broadcast to x's shape {x.shape}")
        axis = [i for i, (m, n) in enumerate(zip(noise_shape, x.shape)) if m is None or m == n]
        return self._apply(lambda t: self._drop(t, p, training, axis), x, seed)

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        state = self._seeded(seed)

        def call(x: Tensor, p: float, *, training: bool) -> Tensor:
            t = self._tensor(x)
            with state:
                return self._numpy(self._drop(t, p, training), x)

        return call

    # ---- spec/modes.md: nn.Dropout inside nn.Sequential ----------------------------------------------

    def dropout_module(self, p: float, *, seed: int) -> _Module:
        """``nn.Dropout(p, mode=...)`` drawing from a state of its own seeded with ``seed``."""
        return _Module(self, self._seeded(seed).hook(self.paddle.nn.Dropout(p, mode=self.mode)))

    def sequential(self, *modules: _Module) -> _Module:
        return _Module(self, self.paddle.nn.Sequential(*(m.module for m in modules)))

    # ---- spec/variants.md: channel and alpha dropout, which have no mode (upscale_in_train) ----------

    def _per_channel(self, op: Callable[[Any, str], Any], x: Tensor, spatial_dims: int, data_format: str,
                     seed: int) -> Tensor:
        """op(t, layout) on x with a batch axis of 1 added to an unbatched sample and removed after."""
        layouts = {1: ("NCL", "NLC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}
        if spatial_dims not in layouts:
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(f"data_format must be 'channels_first' or 'channels_last', got {data_format!r}")
        layout = layouts[spatial_dims][data_format == "channels_last"]
        unbatched = len(x.shape) == spatial_dims + 1
        return self._apply(lambda t: op(t.unsqueeze(0), layout).squeeze(0) if unbatched else op(t, layout), x,
                           seed)

    def channel_dropout(self, x: Tensor, p: float, *, spatial_dims: int, data_format: str, training: bool,
                        seed: int) -> Tensor:
        """``dropout1d`` (channels first only: a channels-last x has its axes swapped there and back),
        ``dropout2d`` or ``dropout3d``."""
        F = self.F

        def op(t: Any, layout: str) -> Any:
            if spatial_dims == 1:
                swap = layout == "NLC"
                y = F.dropout1d(t.transpose([0, 2, 1]) if swap else t, p, training=training)
                return y.transpose([0, 2, 1]) if swap else y
            drop = F.dropout2d if spatial_dims == 2 else F.dropout3d
            return drop(t, p, training=training, data_format=layout)

        return self._per_channel(op, x, spatial_dims, data_format, seed)

    def alpha_dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return self._apply(lambda t: self.F.alpha_dropout(t, p, training=training), x, seed)

    def feature_alpha_dropout(self, x: Tensor, p: float, *, spatial_dims: int, data_format: str, training: bool,
                              seed: int) -> Tensor:
        """``feature_alpha_dropout``, which reads axes 0 and 1 as (sample, channel): a channels-last x
        has its channel axis moved to 1 and back."""
        def op(t: Any, layout: str) -> Any:
            last = layout.endswith("C")
            moved = self.paddle.moveaxis(t, -1, 1) if last else t
            y = self.F.feature_alpha_dropout(moved, p, training=training)
            return self.paddle.moveaxis(y, 1, -1) if last else y

        return self._per_channel(op, x, spatial_dims, data_format, seed)


    # ---- spec/variants.md, fused attention: scaled_dot_product_attention ------------------------------

    def attention_backends(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``F.scaled_dot_product_attention``'s kernel on the CPU, "math" (``_math_attention``: the softmax
        weights, then ``F.dropout(weights, p, mode="upscale_in_train")``; flash and memory-efficient attention
        are CUDA's), in the declared formats a trial call on (1, 16, 1, 16) inputs at dropout_p = 0.5 runs in."""
        if not hasattr(self, "_attention_backends"):
            formats = tuple(d for d in self.dtypes if self._sdpa_runs(d))
            self._attention_backends = (("math", formats),) if formats else ()
        return self._attention_backends

    def _sdpa_runs(self, dtype: str) -> bool:
        inputs = [self._tensor(np.zeros((1, 16, 1, 16), dtype=NUMPY_FORMATS[dtype])) for _ in range(3)]
        try:
            with self._seeded(0):
                self.F.scaled_dot_product_attention(*inputs, dropout_p=0.5, training=True)
        except (RuntimeError, ValueError, NotImplementedError):
            return False
        return True

    def fused_attention(self, q: Any, k: Any, v: Any, g: Any, p: float, *, backend: str, training: bool,
                        seed: int) -> tuple[Any, Any]:
        """``F.scaled_dot_product_attention(q, k, v, dropout_p=p, training=training)`` on Paddle's layout
        (batch, L, heads, d), the checks' (batch, heads, L, d) with axes 1 and 2 swapped, drawing from a state
        seeded with ``seed``, and dL/dv by autograd for upstream gradient g."""
        if backend != "math":
            raise ValueError(f"backend must be 'math', got {backend!r}")
        paddle = self.paddle

        def heads_inside(t: Any) -> Any:
            return paddle.transpose(t, [0, 2, 1, 3])

        leaf = self._tensor(v)
        leaf.stop_gradient = False
        with self._seeded(seed):
            o = heads_inside(self.F.scaled_dot_product_attention(
                heads_inside(self._tensor(q)), heads_inside(self._tensor(k)), heads_inside(leaf), dropout_p=p,
                training=training))
            o.backward(self._tensor(g))
        return self._numpy(o, v), self._numpy(leaf.grad, v)


    # ---- spec/ensemble.md: Monte Carlo dropout with nn.Dropout layers ---------------------------------

    def mc_predict(self, network: Network, p: float, x: Tensor, samples: int, *, seed: int) -> MCPrediction:
        """Mean and variance (1/S) Σ (y_s - mean)^2 of S passes of the network as paddle layers in training
        mode: nn.Dropout(p) before each layer that drops its inputs, nn.Linear, its activation, softmax."""
        return self._mc_passes(self._mc_model(network, p, None).train(), x, samples, seed)

    def mc_predict_normalised(self, network: Network, p: float, x: Tensor, samples: int, *, seed: int,
                              running_mean: list[float], running_var: list[float]) -> tuple:
        """The model of ``mc_predict`` with ``nn.BatchNorm1D(epsilon=1e-3)`` after its first ``nn.Linear``,
        switched as ``mc_switches`` says: "dropout" (the class's) is ``model.eval()``, then ``train()`` on every
        ``nn.Dropout`` (lightning-uq-box's fix); "every" is ``model.train()``, which fails ENSEMBLE-10."""
        norm = self._mc_norm(running_mean, running_var)
        model = self._mc_model(network, p, norm)
        if self.mc_switches == "every":
            model.train()
        else:
            model.eval()
            for layer in model.sublayers():
                if isinstance(layer, self.paddle.nn.Dropout):
                    layer.train()
        prediction = self._mc_passes(model, x, samples, seed)
        return (*prediction, norm._mean.numpy().tolist(), norm._variance.numpy().tolist())

    def _mc_norm(self, running_mean: list[float], running_var: list[float]) -> Any:
        with _Float64Layers(self.paddle):
            norm = self.paddle.nn.BatchNorm1D(len(running_mean), epsilon=1e-3)
        norm._mean.set_value(np.asarray(running_mean, dtype=np.float64))
        norm._variance.set_value(np.asarray(running_var, dtype=np.float64))
        return norm

    def _mc_model(self, network: Network, p: float, norm: Any) -> Any:
        """The network as a float64 nn.Sequential (``norm``, where given, after the first nn.Linear); a
        paddle Linear's weight is (in, out), the transpose of the network's."""
        nn = self.paddle.nn
        activations = {"identity": nn.Identity, "tanh": nn.Tanh, "relu": nn.ReLU}
        layers = []
        with _Float64Layers(self.paddle):
            for layer in network.layers:
                fan_out, fan_in = layer.weight.shape
                linear = nn.Linear(fan_in, fan_out)
                linear.weight.set_value(as_array(layer.weight).T.copy())
                linear.bias.set_value(as_array(layer.bias))
                normalised = [norm] if norm is not None and not any(isinstance(m, nn.Linear) for m in layers) else []
                layers += [*([nn.Dropout(p, mode=self.mode)] if layer.dropout else []), linear, *normalised,
                           activations[layer.activation]()]
            return nn.Sequential(*layers, nn.Softmax(axis=-1))

    def _mc_passes(self, model: Any, x: Tensor, samples: int, seed: int) -> MCPrediction:
        paddle, t = self.paddle, self._tensor(x)
        with paddle.no_grad(), self._seeded(seed):
            passes = paddle.stack([model(t) for _ in range(samples)])
        return MCPrediction(self._numpy(passes.mean(axis=0), x), self._numpy(passes.var(axis=0, unbiased=False), x))


class _Float64Layers:
    """``with _Float64Layers(paddle):`` layers made inside hold float64 parameters (the default dtype, put back)."""

    def __init__(self, paddle: Any) -> None:
        self.paddle = paddle

    def __enter__(self) -> None:
        self.caller = self.paddle.get_default_dtype()
        self.paddle.set_default_dtype("float64")

    def __exit__(self, *exc_info: object) -> None:
        self.paddle.set_default_dtype(self.caller)


class PaddleClassicDropout(PaddleDropout):
    """``F.dropout(x, p, training=..., mode="downscale_in_infer")`` and ``nn.Dropout(p, mode=...)``: the
    spec's classic scaling (a kept value is x in training, and evaluation is q x). Paddle's channel and
    alpha dropout and its scaled_dot_product_attention have no mode: they are the ``paddle`` target's, not
    this one's."""

    name = "paddle-classic"
    mode = "downscale_in_infer"
    policies = Policies(scaling="classic", nonfinite="select", seed_bits=32, scale_format="float32")
    known_deviations = KNOWN_DEVIATIONS["paddle-classic"]
    # no mode: the same code as target paddle's (scaled_dot_product_attention drops with "upscale_in_train")
    channel_dropout = alpha_dropout = feature_alpha_dropout = attention_backends = fused_attention = None


class _Module(ModuleLayer):
    """A paddle layer as the protocol's layer: train(), eval(), and calls on engine tensors or numpy arrays."""

    def __call__(self, x: Tensor) -> Tensor:
        with self.adapter.paddle.no_grad():
            return self.adapter._numpy(self.module(self.adapter._tensor(x)), x)
