"""A framework's module with a mode of its own as the contract's dropout layer and container.

``dropout_module`` and ``sequential`` (refdropout.contract.protocol) return a layer ``d`` with
``d.train()``, ``d.eval()`` and ``d(x)``. Where the framework's module keeps its mode itself (torch's
``nn.Module``, paddle's ``nn.Layer``, Flax's nnx modules, mlx's ``nn.Module``), train() and eval()
are the module's own; each adapter's subclass adds ``__call__``, which converts ``x`` to the framework
and back.
"""

from __future__ import annotations

from typing import Any, Self

__all__ = ["ModuleLayer"]


class ModuleLayer:
    """``module``, a framework module with a mode, as the contract's layer; ``adapter`` converts calls."""

    def __init__(self, adapter: Any, module: Any) -> None:
        self.adapter, self.module = adapter, module

    def train(self) -> Self:
        """Training mode: the module's own train(), which reaches every module below it (MODES-4)."""
        self.module.train()
        return self

    def eval(self) -> Self:
        """Evaluation mode: the module's own eval(), which reaches every module below it (MODES-4)."""
        self.module.eval()
        return self

