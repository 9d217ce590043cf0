"""Reverse-mode automatic differentiation (spec/tensor.md, TENSOR-14 to TENSOR-17).

Each tensor op creates one graph node: the output tensor records its parents and a
vector-Jacobian product ``vjp(g) -> (g_parent_0, ...)`` mapping the upstream gradient of
the output (a flat list) to one flat list per parent (None where a parent gets none).
A vjp closure holds its inputs' values, never the output tensor, so a finished graph
holds no reference cycle and is freed by reference counting alone.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "attach", "backward", "checkpoint"]

VJP = Callable[[list], Sequence["list | None"]]

_grad_enabled: ContextVar[bool] = ContextVar("refdropout_grad_enabled", default=True)


def is_grad_enabled() -> bool:
    return _grad_enabled.get()


@contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    token = _grad_enabled.set(enabled)
    try:
        yield
    finally:
        _grad_enabled.reset(token)


def no_grad():
    """Context in which ops record no graph (TENSOR-16)."""
    return _grad_mode(False)


def enable_grad():
    """Context that turns recording back on inside ``no_grad``."""
    return _grad_mode(True)


def attach(out: Tensor, parents: tuple[Tensor, ...], vjp: VJP) -> Tensor:
    """Make ``out`` a graph node when grad mode is on and some parent requires a gradient."""
    if _grad_enabled.get() and any(p.requires_grad for p in parents):
        out.requires_grad = True
        out._parents = parents
        out._vjp = vjp
    return out


def _topological_order(root: Tensor) -> list[Tensor]:
    """Nodes that lead to ``root``, every node after its parents (iterative: no recursion limit)."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in node._parents if p.requires_grad and id(p) not in seen)
    return order


def backward(root: Tensor, gradient: list) -> None:
    """Propagate ``gradient`` (flat, the shape of ``root``) to every leaf that requires grad.

    Leaves accumulate into ``.grad`` (TENSOR-15): a second backward adds to the first.
    """
    grads: dict[int, list] = {id(root): gradient}
    for node in reversed(_topological_order(root)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if node._vjp is None:
            node._accumulate_grad(g)
            continue
        for parent, g_parent in zip(node._parents, node._vjp(g)):
            if g_parent is None or not parent.requires_grad:
                continue
            previous = grads.get(id(parent))
            grads[id(parent)] = g_parent if previous is None else list(map(operator.add, previous, g_parent))


def checkpoint(fn: Callable[..., Tensor], *inputs: Tensor, generator: Any = None) -> Tensor:
    """``fn(*inputs)`` as one graph node that keeps its inputs, not fn's intermediate values
    (activation checkpointing; spec/training.md, TRAINING-1).

    The forward pass runs fn without recording a graph; the backward pass runs it again (the
    replay) on copies of the inputs and differentiates the replay. With a ``generator`` (a
    refdropout.random.Generator) fn is called ``fn(generator, *inputs)``: the forward pass draws
    from ``generator``, advancing it as a call without checkpointing would, and the replay draws
    from a copy of it in the state the forward pass found it in, so the replay draws the forward
    pass's masks and leaves ``generator`` where the forward pass left it.
    """
    saved = None if generator is None else generator.state
    with no_grad():
        out = fn(*(() if generator is None else (generator,)), *inputs)
    if any(out is t for t in inputs):  # an identity: the node must not be the input itself
        out = type(out).from_flat(out.data, out.shape, out.dtype, rounded=True)

    def vjp(g: list) -> list:
        leaves = [type(t).from_flat(t.data, t.shape, t.dtype, rounded=True) for t in inputs]
        for leaf, t in zip(leaves, inputs):
            leaf.requires_grad = t.requires_grad
        replay = () if generator is None else (type(generator).from_state(saved),)
        with enable_grad():
            again = fn(*replay, *leaves)
        if again.requires_grad:
            backward(again, g)
        return [None if leaf.grad is None else leaf.grad.data for leaf in leaves]

    return attach(out, inputs, vjp)
