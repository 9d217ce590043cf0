"""What a check is run against: an implementation of dropout and the capabilities it declares.

An implementation is any object with the required method

    dropout(x, p, *, training, seed) -> Tensor

taking and returning engine tensors (adapters convert to and from their framework's arrays).

Answers in kind. Any capability may instead be handed numpy arrays where it takes tensors (x, g,
weights; bfloat16 as ``ml_dtypes.bfloat16``), and then answers with numpy arrays where it would
answer with tensors (a keep mask as a numpy bool array): the checks that draw millions of elements
pass arrays, which cross at C speed, never a Python float per element. Layers and networks that a
capability returns take engine tensors. An implementation on engine tensors gets this rule from
``refdropout.contract.arrays.EngineArrays``; an adapter converts numpy arrays to its framework's
arrays directly (``torch.from_numpy``, ``jnp.asarray``, ``tf.convert_to_tensor``).

Every further capability is an optional method; a check names the capabilities it needs and is
reported "not applicable" for an implementation without them, never passed. An implementation
also declares its policies where the spec allows more than one behaviour (``policies``, a
:class:`~refdropout.contract.policies.Policies`) and the floating formats it accepts (``dtypes``);
:func:`validate_declarations` refuses a declaration of the wrong type or value before anything is
checked (spec/runner.md, RUNNER-9). An adapter raises :class:`ContractViolation` for a result that
breaks the protocol itself.
"""

from __future__ import annotations

import reprlib
from typing import Protocol, runtime_checkable

from ..dtypes import DType, bfloat16, float16, float32, float64, get_dtype
from ..tensor import Tensor
from .policies import Policies

__all__ = [
    "Implementation", "CAPABILITIES", "ContractViolation", "DEFAULT_DTYPES", "FLOATING_FORMATS", "dtypes_of",
    "has_capability", "missing_capabilities", "policies_of", "shortened", "validate_declarations", "validate_dtypes",
]


@runtime_checkable
class Implementation(Protocol):
    """The one method every implementation has; see CAPABILITIES for the optional ones.

    Optional attributes: ``policies`` (a :class:`Policies`; the defaults when absent) and ``dtypes``
    (the names of the floating formats it accepts, e.g. ``("float64", "float32", "float16",
    "bfloat16")``; DEFAULT_DTYPES when absent).
    """

    name: str

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor: ...


# capability -> (method name, signature as documentation)
CAPABILITIES: dict[str, str] = {
    "dropout": "dropout(x, p, *, training, seed) -> y",
    "dropout_with_mask": "dropout_with_mask(x, p, *, seed) -> (y, keep mask as a bool tensor of x's shape)",
    "dropout_mask_bits": ("dropout_mask_bits(n, p, *, seed, dtype) -> the keep mask (y != 0) of dropout(ones(n) in"
                          " dtype, p, training=True, seed=seed) as a numpy uint8 array, 8 elements a byte"
                          " (np.packbits, bitorder='little'), packed where the data lives"),
    "algorithm_key": ("algorithm_key(seed) -> the key of the declared policies.algorithm that dropout(x, p, *,"
                      " training=True, seed=seed) draws its mask with: two 32-bit words, the Threefry key"
                      " (jax-threefry), the seed pair (tf-stateless-philox) or the generator's seed"
                      " (torch-cuda-philox); absent: the algorithm's default (spec/exact.md, EXACT-1)"),
    "cuda_geometry": ("cuda_geometry() -> (multiprocessors, max threads per multiprocessor) of the CUDA device the"
                      " implementation's dropout runs on: the launch geometry that the masks of the algorithm"
                      " torch-cuda-philox depend on; absent: not on a CUDA device (spec/exact.md, EXACT-1)"),
    "dropout_vjp": "dropout_vjp(x, p, g, *, training, seed) -> (y, dL/dx for upstream gradient g)",
    "dropout_stream": ("dropout_stream(seed) -> call(x, p, *, training) -> y, successive calls drawing fresh masks"
                       " from one seeded state"),
    # spec/training.md
    "checkpointed_dropout": ("checkpointed_dropout(seed) -> step(x, w, p, *, checkpoint) -> (y, dL/dx): successive"
                             " training steps drawing from one seeded state, y = dropout(x, p) and the gradient of"
                             " L = sum(w ⊙ y); checkpoint=True runs the forward pass under the framework's"
                             " recomputation (activation checkpointing), which runs dropout again in the backward"
                             " pass"),
    "dropout_stream_state": ("dropout_stream_state(seed) -> stream s: s(x, p, *, training) -> y, calls as"
                             " dropout_stream's; s.save() -> a snapshot of its state, s.restore(snapshot) puts back"
                             " a snapshot of any stream of the implementation; s.position() -> how far its state has"
                             " advanced since seeding, an int in the implementation's own unit"),
    "stream_advance": ("stream_advance(n, dtype) -> int: how far one training call at 0 < p < 1 on n elements of"
                       " dtype advances the position of a dropout_stream_state stream"),
    "rank_streams": ("rank_streams(seed, ranks, *, replicated) -> a sequence of `ranks` streams, rank r's s(x, p, *,"
                     " training) -> y with calls as dropout_stream's, for the ranks of a data-parallel group given one"
                     " seed: replicated=False a region whose ranks hold other data or shards, replicated=True a"
                     " region whose values every rank holds alike (Megatron's default and model-parallel states)"),
    "devices": ("devices() -> the devices present that the implementation draws masks on, names from"
                " contract.DEVICES (\"cpu\", \"cuda\", ...)"),
    "device_mask_bits": ("device_mask_bits(device, n, p, *, seed, dtype) -> dropout_mask_bits's packed keep mask of"
                         " dropout(ones(n) in dtype, p, training=True, seed=seed) computed on `device`, as a numpy"
                         " uint8 array on the host"),
    "dropout_noise_shape": ("dropout_noise_shape(x, p, noise_shape, *, training, seed) -> y, one mask value shared"
                            " where noise_shape is 1"),
    "integer_dropout": ("integer_dropout(values, p, *, training, seed) -> the output's values as a list: dropout of"
                        " the framework's own int32 array of `values` (the reference: a list of ints), raising as it"
                        " raises"),
    # spec/variants.md
    "channel_dropout": ("channel_dropout(x, p, *, spatial_dims, data_format, training, seed) -> y, one mask value per"
                        " (sample, channel); rank spatial_dims + 1 is one unbatched sample"),
    "alpha_dropout": "alpha_dropout(x, p, *, training, seed) -> y = a (x m + alpha' (1 - m)) + b",
    "feature_alpha_dropout": ("feature_alpha_dropout(x, p, *, spatial_dims, data_format, training, seed) -> y, alpha"
                              " dropout with one mask value per (sample, channel)"),
    "gaussian_dropout": "gaussian_dropout(x, p, *, training, seed) -> y = x eps, eps ~ N(1, p / q)",
    "dropconnect": ("dropconnect(x, weight, p, *, training, seed) -> y = x (W * M / q)^T for x of shape (..., in),"
                    " weight (out, in)"),
    "drop_path": ("drop_path(x, p, *, mode, scaling, training, seed) -> y, one mask value per sample (mode 'row') or"
                  " per call ('batch')"),
    "dropblock2d": "dropblock2d(x, p, *, block_size, training, seed) -> y, DropBlock on (N, C, H, W)",
    "attention_dropout": ("attention_dropout(weights, p, *, training, seed) -> y, inverted dropout of attention"
                          " weights (..., queries, keys)"),
    # spec/variants.md, fused attention: q, k, v, g of shape (batch, heads, L, d), numpy arrays of one format
    "attention_backends": ("attention_backends() -> ((backend, formats), ...): the attention kernels that drop the"
                           " weights inside them on the implementation's device, at most 4, each with the names of"
                           " the floating formats it runs in with dropout"),
    "fused_attention": ("fused_attention(q, k, v, g, p, *, backend, training, seed) -> (o, dL/dv): o = dropout("
                        "softmax(q k^T / sqrt(d)), p) v computed by the kernel `backend`, and its backward pass for"
                        " upstream gradient g"),
    # spec/modes.md
    "dropout_module": ("dropout_module(p, *, seed) -> a dropout layer d with d.train(), d.eval(), d(x) -> y; its"
                       " training calls draw fresh masks from a state of its own seeded by seed (two made with one"
                       " seed draw alike)"),
    "sequential": ("sequential(*modules) -> a container c with c.train(), c.eval() setting the mode of every module"
                   " inside it, c(x) applying them in order"),
    # spec/recurrent.md: layers[l] = (W_ih, W_hh, b_ih, b_hh) in PyTorch's layout; net(x, *, training) -> y, the
    # last layer's outputs (T, B, H) for x (T, B, I), successive calls drawing fresh masks from one seeded state
    "recurrent_between_layers": ("recurrent_between_layers(cell, layers, p, *, seed) -> net: a stack of 'lstm' or"
                                 " 'gru' layers, dropout p on the outputs of every layer but the last, a fresh mask at"
                                 " every step"),
    "recurrent_variational": ("recurrent_variational(cell, layers, input_p, recurrent_p, *, seed) -> net: the stack"
                              " with variational dropout, one mask on x_t and one on h_(t-1) per call, per"
                              " policies.gate_masks"),
    "recurrent_masks": ("recurrent_masks(net, x, *, training) -> (y, refdropout.nn.recurrent.RecurrentMasks): a call"
                        " of a net made above and the multipliers it applied, per layer and time step"),
    "recurrent_mask_draws": ("recurrent_mask_draws(net, x_shape, *, training) -> RecurrentMasks: the multipliers a"
                             " call of a net made above on an x of shape x_shape (T, B, I) applies, without its"
                             " forward pass, drawn from the net's state as that call draws them (the next call"
                             " draws what it would have drawn after the call)"),
    "recurrent_vjp": ("recurrent_vjp(net, x, g, *, training) -> (y, dL/dx): a call of a net made above and its"
                      " backward pass for upstream gradient g"),
    # spec/ensemble.md, Monte Carlo dropout
    "mc_predict": ("mc_predict(network, p, x, samples, *, seed) -> (mean, variance) of softmax of the logits over"
                   " `samples` training-mode passes of the refdropout.theory.Network, inputs of its dropout layers"
                   " dropped at rate p"),
    "mc_predict_normalised": ("mc_predict_normalised(network, p, x, samples, *, seed, running_mean, running_var) ->"
                              " (mean, variance, running_mean, running_var): mc_predict's passes of the network with a"
                              " batch normalisation (eps 1e-3, scale 1, shift 0, these running statistics, lists of"
                              " floats) of its first layer's pre-activations, as the implementation's Monte Carlo"
                              " dropout runs them; the running statistics as the layer holds them afterwards"),
}


def has_capability(impl: Implementation, capability: str) -> bool:
    """True when ``impl`` has the method that provides ``capability``."""
    return callable(getattr(impl, capability, None))


def missing_capabilities(impl: Implementation, needs: tuple[str, ...]) -> tuple[str, ...]:
    """The capabilities of ``needs`` that ``impl`` lacks, in the order of ``needs``."""
    return tuple(c for c in needs if not has_capability(impl, c))


def policies_of(impl: Implementation) -> Policies:
    """The policies ``impl`` declares; the defaults of :class:`Policies` when it declares none."""
    declared = getattr(impl, "policies", None)
    return declared if isinstance(declared, Policies) else Policies()


# the formats every implementation is checked in unless it declares its own
DEFAULT_DTYPES = ("float64", "float32")


def dtypes_of(impl: Implementation) -> tuple[DType, ...]:
    """The floating formats ``impl`` declares in ``dtypes``; float64 and float32 when it declares none."""
    return tuple(get_dtype(name) for name in getattr(impl, "dtypes", DEFAULT_DTYPES))


# the floating formats an implementation may declare in ``dtypes``
FLOATING_FORMATS = tuple(dtype.name for dtype in (float64, float32, float16, bfloat16))


class ContractViolation(BaseException):
    """A result that breaks the protocol itself, e.g. a plain function returning an array of another
    shape than x's: the clause being checked fails, naming the call (RUNNER-8).

    A BaseException, not an Exception: a check reads an implementation's exceptions as refusals
    (DROPOUT-3 expects a bad p to raise), and a broken result must never pass for a refusal.
    """


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60


def shortened(value: object) -> str:
    """A value as a message about an implementation shows it: its repr, shortened (reprlib)."""
    return _SHORT.repr(value)


def validate_declarations(impl: object) -> None:
    """Refuse what ``impl`` declares, naming the attribute, the value and what is allowed (RUNNER-9):
    ``dropout`` missing or not callable, a capability's name on something not callable, ``dtypes`` not
    a non-empty tuple or list of distinct floating formats, ``policies`` not a :class:`Policies`,
    ``name`` not a str. Raises TypeError or ValueError."""
    kind = type(impl).__name__
    if not hasattr(impl, "dropout"):
        raise TypeError(f"{kind} has no method dropout; an implementation needs {CAPABILITIES['dropout']}")
    for capability, signature in CAPABILITIES.items():
        value = getattr(impl, capability, None)
        if value is not None and not callable(value):
            raise TypeError(f"{capability} must be a method, {signature}; got {shortened(value)}")
    validate_dtypes(getattr(impl, "dtypes", DEFAULT_DTYPES))
    policies = getattr(impl, "policies", None)
    if policies is not None and not isinstance(policies, Policies):
        raise TypeError(f"policies must be a refdropout.contract.Policies, got a {type(policies).__name__}: "
                        f"{shortened(policies)}")
    name = getattr(impl, "name", None)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str, got {shortened(name)}")


def validate_dtypes(dtypes: object) -> None:
    """``dtypes``: a non-empty tuple or list of distinct names from FLOATING_FORMATS (or their DTypes)."""
    allowed = f"a non-empty tuple of distinct floating formats from {', '.join(FLOATING_FORMATS)}"
    if not isinstance(dtypes, (tuple, list)) or not dtypes:
        raise TypeError(f"dtypes must be {allowed}, got {shortened(dtypes)}")
    names = [d.name if isinstance(d, DType) else d for d in dtypes]
    unknown = [name for name in names if name not in FLOATING_FORMATS]
    if unknown:
        raise ValueError(f"dtypes must be {allowed}, got {shortened(dtypes)}: {shortened(unknown[0])} is not one")
    if len(set(names)) < len(names):
        raise ValueError(f"dtypes must be {allowed}, got {shortened(dtypes)}: a format given twice")
