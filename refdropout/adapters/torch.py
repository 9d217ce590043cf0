"""PyTorch as a conformance target: its dropout functions and modules behind the protocol.

Covered: ``torch.nn.functional.dropout`` (dropout, its mask, its VJP by autograd, a stream of
calls), ``nn.Dropout`` inside ``nn.Sequential`` (spec/modes.md), ``dropout1d/2d/3d`` (channel
dropout), ``alpha_dropout``, ``feature_alpha_dropout``, the dropout inside
``scaled_dot_product_attention`` (on every ``SDPBackend`` that drops inside it on the device),
``nn.LSTM``/``nn.GRU`` between-layer dropout and Monte Carlo dropout with ``nn.Dropout`` layers.
PyTorch has no ``noise_shape``, no Gaussian dropout, no DropConnect, DropPath or DropBlock and no
variational recurrent dropout: those capabilities are absent, so their clauses are "not applicable".

Randomness. None of these APIs takes a generator: they draw from the device's default
generator. Every seeded call therefore runs against a state of its own (:class:`_Seeded`): the
default generator's state is swapped for one seeded with ``seed`` (a fresh
``torch.Generator().manual_seed(seed)``), and swapped back afterwards, so a call is a function of
its seed and the caller's random state is untouched. A stream keeps its state between calls.
On the CPU, PyTorch's Mersenne Twister is seeded with the low 32 bits of the seed only.

Policies, as measured on the CPU (PyTorch 2.13): inverted scaling (a kept x becomes
x * fl(1/q), the noise tensor divided by q before the product); a dropped NaN or ±inf becomes
NaN ("multiply": the output is x * noise); p = 1 returns x * 0 (0 of x's sign for finite x,
NaN for non-finite x); eval and p = 0 return x itself, drawing nothing; ``F.dropout`` compares p
with 0 and 1 only, so True and False pass as 1 and 0 (p_validation "bool_as_number"); the CPU
generator keeps the low 32 bits of a seed (seed_bits 32). The module imports torch only when an
adapter is made: importing it never needs torch.
"""

from __future__ import annotations

import functools
import math
import sys
import warnings
from array import array
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..contract import Policies
from ..contract.arrays import NUMPY_FORMATS
from ..dtypes import bfloat16, bool_, get_dtype
from ..nn.mc import MCPrediction
from ..nn.recurrent import RecurrentMasks
from ..tensor import Tensor
from ..theory import Network
from . import INSTALL as COMMANDS
from . import import_framework
from .held import HeldState
from .layer import ModuleLayer
from .torch_mt19937 import words_drawn

__all__ = ["TorchDropout", "INSTALL", "KNOWN_DEVIATIONS"]

INSTALL = COMMANDS["torch"]  # the CPU build the project tests with

BIT_WEIGHTS = (1, 2, 4, 8, 16, 32, 64, 128)  # of the elements of a byte, little bit order (np.packbits)

# the kernels of torch.nn.attention.SDPBackend that may drop attention weights (VARIANTS-20 to VARIANTS-22)
SDPA_BACKENDS = ("MATH", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION")


def packed_on_device(torch: Any, keep: Any) -> np.ndarray:
    """A bool tensor packed 8 elements a byte (little bit order, zeros past its end) where it lives,
    np.packbits' bytes: only n / 8 bytes cross to the host."""
    n = keep.numel()
    bits = torch.cat([keep.to(torch.uint8), keep.new_zeros(-n % 8, dtype=torch.uint8)]).view(-1, 8)
    weights = torch.tensor(BIT_WEIGHTS, dtype=torch.uint8, device=keep.device)
    return (bits * weights).sum(dim=1, dtype=torch.uint8).cpu().numpy()


# clause -> what PyTorch does that the spec forbids and no policy allows (measured with torch 2.13 on the CPU)
KNOWN_DEVIATIONS: dict[str, str] = {
    "DROPOUT-2": "in float16 a kept value is x · fl16(1/q), not x/q: ATen's CPU dropout makes its noise as "
                 "bernoulli(q).div_(q) in x's format, so at q < 1/65520 (p above 0.9999847, p = 0.99999 among "
                 "them) the scale overflows float16 to inf and a kept x gives ±inf (a kept 0 gives NaN) where x/q "
                 "is finite: x = 2^-14 at p = 1 - 2^-16 gives inf, not 4 (found by the clause's case of an "
                 "overflowing scale; bfloat16, float32 and float64 conform)",
    "GRADIENTS-1": "in float16 the VJP is g · bernoulli(q).div_(q), the forward's noise in x's format, so at "
                   "q < 1/65520 a kept element's gradient is ±inf where g/q is finite (a dropped one's is 0): "
                   "g = 2^-14 at p = 1 - 2^-16 gives inf, not 4 (found by the clause's case of an overflowing "
                   "scale, DROPOUT-2's inputs with g = x; torch 2.13 on the CPU; bfloat16, float32 and float64 "
                   "conform)",
    "VARIANTS-4": "alpha_dropout in float16 at q = 1 - p <= 1.76e-10 (p = 1 - 2^-53 among them) returns NaN for "
                  "every finite x, kept or dropped: its multipliers a and b = -a α' p, computed in float16, pass "
                  "65504 and x · inf + (-inf + inf) is NaN; the dropped value a α' q is about -1e-8 (0 in float16) "
                  "(found by the clause's generated cases; bfloat16, float32 and float64 conform)",
    "VARIANTS-6": "feature_alpha_dropout in float16 at q = 1 - p <= 1.76e-10 returns NaN for every element, as "
                  "alpha_dropout does (VARIANTS-4): its multipliers pass float16's largest finite value",
}


# --- engine tensors <-> torch tensors ------------------------------------------------------------


def _to_torch(torch: Any, x: Tensor | np.ndarray, device: Any) -> Any:
    """x (an engine tensor or a numpy array) as a torch tensor of its dtype on ``device``: exact,
    since x's values lie in its format.

    A numpy array is copied by ``torch.from_numpy`` at C speed (bfloat16, which numpy holds as
    ml_dtypes.bfloat16, through its 16-bit pattern): the caller's array is never shared.

    The values cross as one buffer that torch reads at C speed, about twice as fast as
    ``torch.tensor`` on a list of floats and 20 times on bools: bytes for bool; for bfloat16 the
    top half of each float32, which is its bfloat16 exactly (torch's own vectorized cast turns
    every NaN into 0xFFFF); float64 for the other formats, cast exactly by torch."""
    dtype = getattr(torch, x.dtype.name)
    if isinstance(x, np.ndarray):
        if x.dtype.name == "bfloat16":
            return torch.from_numpy(x.view(np.uint16).copy()).view(torch.bfloat16).to(device)
        return torch.from_numpy(np.array(x, copy=True)).to(device)
    if not x.data:
        return torch.empty(x.shape, dtype=dtype, device=device)
    if x.dtype is bool_:
        flat = torch.frombuffer(bytearray(x.data), dtype=torch.bool)
    elif x.dtype is bfloat16:
        single, top = array("f", x.data).tobytes(), (2, 3) if sys.byteorder == "little" else (0, 1)
        halves = bytearray(len(single) // 2)
        halves[0::2], halves[1::2] = single[top[0]::4], single[top[1]::4]
        flat = torch.frombuffer(halves, dtype=torch.bfloat16)
    else:
        flat = torch.frombuffer(array("d", x.data), dtype=torch.float64)
    return flat.to(device=device, dtype=dtype).reshape(x.shape)


def _from_torch(y: Any, like: object = None) -> Tensor | np.ndarray:
    """A torch tensor as an engine tensor of its shape and dtype (torch.float32 -> "float32"), or
    as a numpy array where ``like`` is one (the protocol's answer in kind; bfloat16 as
    ml_dtypes.bfloat16, through its 16-bit pattern).

    Its values are already in their format, so they are wrapped as they are: rounding them
    again would change nothing and cost more than the call under test."""
    if isinstance(like, np.ndarray):
        y = y.detach().cpu()
        if str(y.dtype) == "torch.bfloat16":  # numpy has no bfloat16 of torch's: its bits, as ml_dtypes'
            return y.view(sys.modules["torch"].int16).numpy().view(NUMPY_FORMATS["bfloat16"])
        return y.numpy()
    return Tensor.from_flat(y.detach().cpu().reshape(-1).tolist(), tuple(y.shape),
                            get_dtype(str(y.dtype).removeprefix("torch.")), rounded=True)


def _with_batch_axis(op: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """op on a batch of one: an unbatched sample as a function that only reads batches takes it."""
    return lambda t: op(t.unsqueeze(0)).squeeze(0)


# --- seeded random state ---------------------------------------------------------------------------


class _Seeded(HeldState):
    """A state of the device's default generator (which PyTorch's dropout draws from), seeded once;
    ``with state:`` draws from it (adapters.held). Usable as forward pre- and post-hooks of a module,
    so a module gets a stream of its own.
    """

    def __init__(self, torch: Any, device: Any, seed: int) -> None:
        if device.type == "cuda":
            index = torch.cuda.current_device() if device.index is None else device.index
            self._generator = torch.cuda.default_generators[index]
        else:
            self._generator = torch.default_generator
        super().__init__(torch.Generator(device=device).manual_seed(seed).get_state())

    def read(self) -> Any:
        return self._generator.get_state()

    def write(self, state: Any) -> None:
        self._generator.set_state(state)

    def hook(self, module: Any) -> Any:
        """``module`` drawing from this state: entered before each forward, left after it."""

        def enter(_module: Any, _args: tuple) -> None:  # a pre-hook's non-None result would replace the input
            self.__enter__()

        def leave(_module: Any, _args: tuple, _output: Any) -> None:
            self.__exit__()

        module.register_forward_pre_hook(enter)
        module.register_forward_hook(leave)
        return module


# --- the adapter -------------------------------------------------------------------------------------


class TorchDropout:
    """PyTorch's dropout on ``device`` ("cpu", "cuda", "cuda:1") behind the conformance protocol."""

    name = "torch"
    dtypes = ("float64", "float32", "float16", "bfloat16")
    policies = Policies(scaling="inverted", nonfinite="multiply", p_validation="bool_as_number", seed_bits=32)
    known_deviations = KNOWN_DEVIATIONS
    mc_switches = "dropout"  # mc_predict_normalised's: eval() then train() on nn.Dropout; "every": model.train()
    preserve_rng_state = True  # checkpointed_dropout's, PyTorch's default; False replays from the live generator

    def __init__(self, device: str = "cpu") -> None:
        torch = self._torch = import_framework("torch", target=self.name, install=INSTALL)
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError) as error:
            raise ValueError(f"TorchDropout: device must be 'cpu' or 'cuda[:index]', got {device!r}") from error
        if self.device.type not in ("cpu", "cuda"):
            raise ValueError(f"TorchDropout: device must be 'cpu' or 'cuda[:index]', got {device!r}")
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"TorchDropout: device {device!r} requested, but torch {torch.__version__} sees no "
                             f"CUDA device (torch.cuda.is_available() is False)")
        if self.device.type == "cuda":
            # cuDNN's recurrent kernel draws its between-layer masks inside the kernel: none to observe
            self.recurrent_masks = self.recurrent_mask_draws = None
            self.stream_advance = None  # the offset a CUDA call advances depends on the launch grid: undeclared
        else:
            self.cuda_geometry = None  # the CPU's masks are a Mersenne Twister's: no launch geometry

    def cuda_geometry(self) -> tuple[int, int]:
        """The CUDA device's (multiprocessors, max threads per multiprocessor): the fused dropout kernel's
        launch grid, on which the masks of ``--policy algorithm=torch-cuda-philox`` depend (spec/exact.md).
        Written without a GPU: the algorithm is not declared by default, and its prediction is unverified
        against hardware (tests/gpu/verify_torch_cuda_philox.py compares it on a CUDA machine)."""
        properties = self._torch.cuda.get_device_properties(self.device)
        return properties.multi_processor_count, properties.max_threads_per_multi_processor

    def _tensor(self, x: Tensor) -> Any:
        return _to_torch(self._torch, x, self.device)

    def _seeded(self, seed: int) -> _Seeded:
        return _Seeded(self._torch, self.device, seed)

    def _apply(self, op: Callable[[Any], Any], x: Tensor, seed: int) -> Tensor:
        """op(x) on x as a torch tensor, drawing from a state seeded with ``seed``."""
        t = self._tensor(x)
        with self._seeded(seed):
            return _from_torch(op(t), x)

    @property
    def _F(self) -> Any:
        return self._torch.nn.functional

    # ---- spec/dropout.md and spec/gradients.md: torch.nn.functional.dropout -----------------

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return self._apply(lambda t: self._F.dropout(t, p, training), x, seed)

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        """The output and its keep mask, read off a second call on ones with the same seed: the
        draws depend on the seed, shape, dtype and device only, so the mask is this call's."""
        y = self.dropout(x, p, training=True, seed=seed)
        ones = self._torch.ones(x.shape, dtype=getattr(self._torch, x.dtype.name), device=self.device)
        with self._seeded(seed):
            keep = self._F.dropout(ones, p, True) != 0
        return y, _from_torch(keep, x)

    def dropout_mask_bits(self, n: int, p: float, *, seed: int, dtype: str) -> np.ndarray:
        """The keep mask of ``F.dropout`` of n ones in ``dtype``, packed 8 elements a byte (little bit
        order) on the adapter's device (packed_on_device), so that only n / 8 bytes cross to the host; on
        the CPU, where nothing crosses, by ``np.packbits`` on the mask's memory, a fraction of torch's
        multiply-and-sum. packed_on_device is tested on the CPU only: no GPU was available where it was
        written."""
        torch = self._torch
        ones = torch.ones(n, dtype=getattr(torch, dtype), device=self.device)
        with self._seeded(seed):
            keep = self._F.dropout(ones, p, True) != 0
        if self.device.type == "cpu":
            return np.packbits(keep.numpy(), bitorder="little")
        return packed_on_device(torch, keep)

    def devices(self) -> tuple[str, ...]:
        """The CPU, and CUDA where torch sees a device (TRAINING-7)."""
        return ("cpu", "cuda") if self._torch.cuda.is_available() else ("cpu",)

    def device_mask_bits(self, device: str, n: int, p: float, *, seed: int, dtype: str) -> np.ndarray:
        """dropout_mask_bits on ``device`` ("cpu" or "cuda"). PyTorch draws from a Mersenne Twister on the CPU
        and from Philox on CUDA, so it declares no reproducible_across: TRAINING-7 holds a user's
        ``--policy reproducible_across=cpu+cuda`` to the bits where a CUDA device is present."""
        if device not in self.devices():
            raise ValueError(f"device_mask_bits: device must be one of {self.devices()}, got {device!r}")
        on = self if self.device.type == device else TorchDropout(device)
        return on.dropout_mask_bits(n, p, seed=seed, dtype=dtype)

    def integer_dropout(self, values: list[int], p: float, *, training: bool, seed: int) -> list:
        t = self._torch.tensor(values, dtype=self._torch.int32, device=self.device)
        with self._seeded(seed):
            return self._F.dropout(t, p, training).tolist()

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        leaf = self._tensor(x).requires_grad_()
        with self._seeded(seed):
            y = self._F.dropout(leaf, p, training)
        y.backward(self._tensor(g))
        return _from_torch(y, x), _from_torch(leaf.grad, g)

    def dropout_stream(self, seed: int) -> _Stream:
        return _Stream(self, seed)

    # ---- spec/training.md: torch.utils.checkpoint, and the generator's state ----------------------

    def checkpointed_dropout(self, seed: int) -> Callable[..., tuple[Tensor, Tensor]]:
        """Steps on one seeded state; under ``checkpoint`` the forward pass is
        ``torch.utils.checkpoint.checkpoint(..., use_reentrant=False, preserve_rng_state=True)`` (PyTorch's
        default; ``preserve_rng_state`` is the class attribute), whose backward pass, run while the stream's
        state is the default generator's, replays dropout."""
        torch, state = self._torch, self._seeded(seed)
        import_framework("torch.utils.checkpoint", target=self.name, install=INSTALL)

        def step(x: Tensor, w: Tensor, p: float, *, checkpoint: bool) -> tuple[Tensor, Tensor]:
            leaf = self._tensor(x).requires_grad_()

            def forward(t: Any) -> Any:
                return self._F.dropout(t, p, True)

            with state:
                y = torch.utils.checkpoint.checkpoint(forward, leaf, use_reentrant=False,
                                                      preserve_rng_state=self.preserve_rng_state) \
                    if checkpoint else forward(leaf)
                (self._tensor(w) * y).sum().backward()
            return _from_torch(y, x), _from_torch(leaf.grad, w)

        return step

    def dropout_stream_state(self, seed: int) -> _Stream:
        return _Stream(self, seed)

    def stream_advance(self, n: int, dtype: str) -> int:
        """Two Mersenne Twister words per element (``bernoulli_`` draws a 64-bit value for each), in every
        format: measured on an AMD EPYC with torch 2.13. Only on the CPU (absent on CUDA, whose Philox
        offset advances by a multiple of 4 that depends on the launch grid)."""
        return 2 * n

    # ---- spec/variants.md ----------------------------------------------------------------------

    def _per_channel(self, op: Callable[[Any], Any], x: Tensor, spatial_dims: int, data_format: str, seed: int, *,
                     batch_unbatched: bool) -> Tensor:
        """op on x laid out as PyTorch's channel functions read it: channels first (a channels-last
        x has its channel axis moved there and back), and, where ``batch_unbatched``, an unbatched
        x (spatial_dims + 1 axes) given a batch axis of 1 first, since op would misread it."""
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(f"data_format must be 'channels_first' or 'channels_last', got {data_format!r}")
        unbatched = len(x.shape) == spatial_dims + 1
        if unbatched and batch_unbatched:
            op = _with_batch_axis(op)
        if data_format == "channels_first":
            return self._apply(op, x, seed)
        channel = 0 if unbatched else 1
        return self._apply(lambda t: op(t.movedim(-1, channel)).movedim(channel, -1), x, seed)

    def channel_dropout(self, x: Tensor, p: float, *, spatial_dims: int, data_format: str, training: bool,
                        seed: int) -> Tensor:
        """``dropout1d``, ``dropout2d`` or ``dropout3d``. ``dropout1d`` and ``dropout3d`` read an
        unbatched input as one sample; ``dropout2d`` reads a 3-d one as a batch (N, C, L) of 1-d
        samples (pytorch/pytorch#77081), so it is given the batch axis VARIANTS-2 implies."""
        functions = {1: self._F.dropout1d, 2: self._F.dropout2d, 3: self._F.dropout3d}
        if spatial_dims not in functions:
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
        drop = functions[spatial_dims]
        return self._per_channel(lambda t: drop(t, p, training), x, spatial_dims, data_format, seed,
                                 batch_unbatched=spatial_dims == 2)

    def alpha_dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return self._apply(lambda t: self._F.alpha_dropout(t, p, training), x, seed)

    def feature_alpha_dropout(self, x: Tensor, p: float, *, spatial_dims: int, data_format: str, training: bool,
                              seed: int) -> Tensor:
        """``feature_alpha_dropout``, which reads axes 0 and 1 as (sample, channel) whatever the
        rank, so an unbatched input is given a batch axis first."""
        return self._per_channel(lambda t: self._F.feature_alpha_dropout(t, p, training), x, spatial_dims,
                                 data_format, seed, batch_unbatched=True)

    def attention_dropout(self, weights: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        """The dropout inside ``scaled_dot_product_attention``, applied to ``weights``.

        With Q = K = 0 the attention is uniform, 1/S over the S keys, and with V the identity the
        output is that attention after dropout: m / (q S). Its multipliers S out = m / q, PyTorch's
        mask and scale, are applied to ``weights`` (S a power of two keeps the product exact).
        """
        torch = self._torch
        *batch, queries, keys = weights.shape
        dtype = getattr(torch, weights.dtype.name)
        query = torch.zeros((*batch, queries, 1), dtype=dtype, device=self.device)
        key = torch.zeros((*batch, keys, 1), dtype=dtype, device=self.device)
        value = torch.eye(keys, dtype=dtype, device=self.device).expand(*batch, keys, keys)
        with self._seeded(seed):
            attention = self._F.scaled_dot_product_attention(query, key, value, dropout_p=p if training else 0.0)
        return _from_torch(self._tensor(weights) * (attention * keys), weights)

    # ---- spec/variants.md, fused attention: scaled_dot_product_attention on each backend ---------

    def attention_backends(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The ``SDPBackend`` kernels that run a call with dropout on the device, each with the declared formats
        it runs in: a trial call on (1, 1, 16, 16) inputs at dropout_p = 0.5 under ``sdpa_kernel([backend])``
        (a kernel that cannot take the call raises). Measured on the CPU (torch 2.13): math only, in every
        format; FLASH_ATTENTION refuses dropout_p > 0 there, and the other kernels are CUDA's."""
        if not hasattr(self, "_attention_backends"):
            self._attention_backends = tuple((name, formats) for name in SDPA_BACKENDS
                                             if (formats := tuple(d for d in self.dtypes if self._sdpa_runs(name, d))))
        return self._attention_backends

    def _sdpa_runs(self, backend: str, dtype: str) -> bool:
        torch = self._torch
        inputs = [torch.zeros((1, 1, 16, 16), dtype=getattr(torch, dtype), device=self.device) for _ in range(3)]
        try:
            with warnings.catch_warnings(), self._sdpa_kernel(backend), self._seeded(0):
                warnings.simplefilter("ignore", UserWarning)  # each kernel that declines says why
                self._F.scaled_dot_product_attention(*inputs, dropout_p=0.5)
        except RuntimeError:
            return False
        return True

    def _sdpa_kernel(self, backend: str) -> Any:
        attention = import_framework("torch.nn.attention", target=self.name, install=INSTALL)
        if backend not in SDPA_BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(SDPA_BACKENDS)}, got {backend!r}")
        return attention.sdpa_kernel([getattr(attention.SDPBackend, backend)])

    def fused_attention(self, q: Any, k: Any, v: Any, g: Any, p: float, *, backend: str, training: bool,
                        seed: int) -> tuple[Any, Any]:
        """``scaled_dot_product_attention(q, k, v, dropout_p=p if training else 0)`` under
        ``sdpa_kernel([backend])``, drawing from a state seeded with ``seed``, and dL/dv by autograd for
        upstream gradient g (the backward pass runs under the same state: a kernel that drew again would
        draw the next mask)."""
        leaf = self._tensor(v).requires_grad_()
        with self._sdpa_kernel(backend), self._seeded(seed):
            o = self._F.scaled_dot_product_attention(self._tensor(q), self._tensor(k), leaf,
                                                     dropout_p=p if training else 0.0)
            o.backward(self._tensor(g))
        return _from_torch(o, v), _from_torch(leaf.grad, v)

    # ---- spec/modes.md: nn.Dropout inside nn.Sequential ------------------------------------------

    def dropout_module(self, p: float, *, seed: int) -> _Module:
        """``nn.Dropout(p)`` drawing from a stream of its own seeded with ``seed``."""
        return _Module(self, self._seeded(seed).hook(self._torch.nn.Dropout(p)))

    def sequential(self, *modules: _Module) -> _Module:
        return _Module(self, self._torch.nn.Sequential(*(m.module for m in modules)))

    # ---- spec/recurrent.md: nn.LSTM and nn.GRU, dropout between layers ---------------------------

    def recurrent_between_layers(self, cell: str, layers: Sequence[tuple], p: float, *, seed: int) -> _RecurrentNet:
        torch = self._torch
        kinds = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
        if cell not in kinds:
            raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
        hidden, inputs = layers[0][1].shape[1], layers[0][0].shape[1]
        with warnings.catch_warnings():  # one layer with p > 0: PyTorch warns that p has no effect
            warnings.simplefilter("ignore", UserWarning)
            module = kinds[cell](inputs, hidden, num_layers=len(layers), dropout=p, dtype=torch.float64,
                                 device=self.device)
        with torch.no_grad():
            for depth, weights in enumerate(layers):
                for name, w in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), weights):
                    getattr(module, f"{name}_l{depth}").copy_(self._tensor(w))
        return _RecurrentNet(self, module, p, self._seeded(seed))

    def recurrent_masks(self, net: _RecurrentNet, x: Tensor, *, training: bool) -> tuple[Tensor, RecurrentMasks]:
        """The call and the multipliers it applied, read off the computation itself: PyTorch's
        CPU kernel drops a layer's outputs (T, B, H) with a noise tensor filled by
        ``bernoulli_`` and divided by q in place, which a dispatch mode records."""
        y, masks = self._recorded_call(net, self._tensor(x), training)
        return _from_torch(y), masks

    def recurrent_mask_draws(self, net: _RecurrentNet, x_shape: tuple[int, ...], *, training: bool) -> RecurrentMasks:
        """The multipliers of a call on an x of shape ``x_shape``, read off that call: PyTorch draws
        them only inside the stack's forward, so it runs, on zeros made in torch (its noise does not
        depend on x's values) without recording gradients, and its output is never converted."""
        torch = self._torch
        with torch.no_grad():
            zeros = torch.zeros(tuple(x_shape), dtype=torch.float64, device=self.device)
            return self._recorded_call(net, zeros, training)[1]

    def _recorded_call(self, net: _RecurrentNet, x: Any, training: bool) -> tuple[Any, RecurrentMasks]:
        """(the torch output, the multipliers) of one call of ``net`` on the torch tensor x."""
        with _NoiseRecorder(self._torch) as recorder:
            y = net.forward(x, training)
        return y, net.masks(tuple(x.shape), recorder.noise, training)

    def recurrent_vjp(self, net: _RecurrentNet, x: Tensor, g: Tensor, *, training: bool) -> tuple[Tensor, Tensor]:
        leaf = self._tensor(x).requires_grad_()
        y = net.forward(leaf, training)
        y.backward(self._tensor(g))
        return _from_torch(y), _from_torch(leaf.grad)

    # ---- spec/ensemble.md: Monte Carlo dropout with nn.Dropout layers ----------------------------

    def mc_predict(self, network: Network, p: float, x: Tensor, samples: int, *, seed: int) -> MCPrediction:
        """Mean and variance (1/S) Σ (y_s - mean)^2 of S training-mode passes of the network
        as torch modules: nn.Dropout(p) before each layer that drops its inputs, nn.Linear,
        its activation, and softmax over the logits."""
        model = self._torch.nn.Sequential(*self._mc_modules(network, p)).train()
        return self._mc_passes(model, x, samples, seed)

    def _mc_modules(self, network: Network, p: float) -> list[Any]:
        """The network as torch modules: nn.Dropout(p) before each layer that drops its inputs, nn.Linear,
        its activation, and softmax over the logits."""
        torch = self._torch
        nn = torch.nn
        activations = {"identity": nn.Identity, "tanh": nn.Tanh, "relu": nn.ReLU}
        modules = []
        for layer in network.layers:
            fan_out, fan_in = layer.weight.shape
            linear = nn.Linear(fan_in, fan_out, dtype=torch.float64, device=self.device)
            with torch.no_grad():
                linear.weight.copy_(self._tensor(layer.weight))
                linear.bias.copy_(self._tensor(layer.bias))
            modules += ([nn.Dropout(p)] if layer.dropout else []) + [linear, activations[layer.activation]()]
        return [*modules, nn.Softmax(dim=-1)]

    def _mc_passes(self, model: Any, x: Tensor, samples: int, seed: int) -> MCPrediction:
        torch = self._torch
        t = self._tensor(x)
        with torch.no_grad(), self._seeded(seed):
            passes = torch.stack([model(t) for _ in range(samples)])
        return MCPrediction(_from_torch(passes.mean(0), x), _from_torch(passes.var(0, correction=0), x))

    def mc_predict_normalised(self, network: Network, p: float, x: Tensor, samples: int, *, seed: int,
                              running_mean: list[float], running_var: list[float]) -> tuple:
        """The model of ``mc_predict`` with ``nn.BatchNorm1d(eps=1e-3)`` after its first ``nn.Linear``, switched
        as ``mc_switches`` says: "dropout" (the class's) is ``model.eval()`` and then ``train()`` on every
        ``nn.Dropout`` (lightning-uq-box's fix); "every" is ``model.train()``, the recipe that fails ENSEMBLE-10."""
        torch = self._torch
        modules = self._mc_modules(network, p)
        first = next(j for j, m in enumerate(modules) if isinstance(m, torch.nn.Linear))
        norm = torch.nn.BatchNorm1d(len(running_mean), eps=1e-3, dtype=torch.float64, device=self.device)
        with torch.no_grad():
            norm.running_mean.copy_(torch.tensor(running_mean, dtype=torch.float64))
            norm.running_var.copy_(torch.tensor(running_var, dtype=torch.float64))
        model = torch.nn.Sequential(*modules[:first + 1], norm, *modules[first + 1:])
        if self.mc_switches == "every":
            model.train()
        else:
            model.eval()
            for module in model.modules():
                if isinstance(module, torch.nn.Dropout):
                    module.train()
        prediction = self._mc_passes(model, x, samples, seed)
        return (*prediction, norm.running_mean.tolist(), norm.running_var.tolist())


class _Stream:
    """Successive F.dropout calls on one seeded state (``dropout_stream``), whose state can be saved (a
    copy of the generator's state), restored and read as a position: the Mersenne Twister words drawn
    since seeding on the CPU (torch_mt19937), the Philox offset on CUDA."""

    def __init__(self, adapter: TorchDropout, seed: int) -> None:
        self.adapter, self.state = adapter, adapter._seeded(seed)
        self.seeded = self.state.held.clone()

    def __call__(self, x: Tensor, p: float, *, training: bool) -> Tensor:
        t = self.adapter._tensor(x)
        with self.state:
            return _from_torch(self.adapter._F.dropout(t, p, training), x)

    def save(self) -> Any:
        return self.state.held.clone()

    def restore(self, snapshot: Any) -> None:
        self.state.held = snapshot.clone()

    def position(self) -> int:
        torch, device = self.adapter._torch, self.adapter.device
        if device.type == "cuda":
            return torch.Generator(device=device).set_state(self.state.held).get_offset()
        return words_drawn(self.seeded.numpy().tobytes(), self.state.held.numpy().tobytes())


class _Module(ModuleLayer):
    """A torch module as the protocol's layer: train(), eval(), and calls on engine tensors or numpy arrays."""

    def __init__(self, adapter: TorchDropout, module: Any) -> None:
        super().__init__(adapter, module.to(adapter.device))

    def __call__(self, x: Tensor) -> Tensor:
        with self.adapter._torch.no_grad():
            return _from_torch(self.module(self.adapter._tensor(x)), x)


class _RecurrentNet:
    """An nn.LSTM or nn.GRU as the protocol's net: net(x, *, training) -> the last layer's
    outputs, successive calls drawing from one seeded state."""

    def __init__(self, adapter: TorchDropout, module: Any, p: float, state: _Seeded) -> None:
        self.adapter, self.module, self.p, self.state = adapter, module, p, state

    def forward(self, x: Any, training: bool) -> Any:
        self.module.train(training)
        with self.state:
            return self.module(x)[0]

    def __call__(self, x: Tensor, *, training: bool) -> Tensor:
        with self.adapter._torch.no_grad():
            return _from_torch(self.forward(self.adapter._tensor(x), training))

    def masks(self, shape: tuple[int, ...], noise: list[Any], training: bool) -> RecurrentMasks:
        """RecurrentMasks of a call on x of ``shape`` (T, B, I) that drew ``noise``: one
        (T, B, H) multiplier m / q per layer but the last when training at 0 < p < 1, none otherwise
        (the multiplier is then 1 - p in training, 1 in eval). Inputs and states are never dropped."""
        steps, batch, inputs = shape
        depth, hidden = self.module.num_layers, self.module.hidden_size
        drawn = training and 0.0 < self.p < 1.0
        if len(noise) != (depth - 1 if drawn else 0):
            raise RuntimeError(f"the torch {type(self.module).__name__} call drew {len(noise)} noise tensors, "
                               f"expected {depth - 1 if drawn else 0}: its masks cannot be read off")
        between = [[_from_torch(n[t]) for t in range(steps)] for n in noise] if drawn else \
            [[_constant(1.0 - self.p if training else 1.0, (batch, hidden))] * steps] * (depth - 1)
        return RecurrentMasks(
            inputs=tuple((_constant(1.0, (1, batch, width)),) * steps for width in [inputs] + [hidden] * (depth - 1)),
            recurrent=((_constant(1.0, (1, batch, hidden)),) * steps,) * depth,
            between_layers=tuple(map(tuple, between)),
        )


def _constant(value: float, shape: tuple[int, ...]) -> Tensor:
    return Tensor.from_flat([value] * math.prod(shape), shape)


@functools.cache
def _recording_mode(torch: Any) -> type:
    """The TorchDispatchMode whose instances append the tensors ``aten.bernoulli_`` fills to their list."""
    from torch.utils._python_dispatch import TorchDispatchMode

    bernoulli = torch.ops.aten.bernoulli_.float

    class Mode(TorchDispatchMode):
        def __init__(self, noise: list[Any]) -> None:
            super().__init__()
            self.noise = noise

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if func is bernoulli:
                self.noise.append(out)
            return out

    return Mode


class _NoiseRecorder:
    """A dispatch mode that keeps every tensor ``aten.bernoulli_`` fills during a call: after it,
    each holds the multipliers m / q that PyTorch's dropout applied (it divides the noise in place).
    The mode's class is made once (_recording_mode) and holds the list it fills, not the recorder: a
    class made per call, whose method closed over the recorder, put every call's noise in a reference
    cycle that only the cyclic collector frees (issue 15: RECURRENT-9 at deep grew to 4 GiB)."""

    def __init__(self, torch: Any) -> None:
        self.noise: list[Any] = []
        self._mode = _recording_mode(torch)(self.noise)

    def __enter__(self) -> _NoiseRecorder:
        self._mode.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._mode.__exit__(*exc_info)
