"""The pieces the framework adapters share: a held state of a global generator (adapters.held) and a
framework module as the contract's layer (adapters.layer), on a stand-in framework that needs no
installed one: a global generator whose state is the count of words drawn."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refdropout.adapters.held import HeldState
from refdropout.adapters.layer import ModuleLayer


class Framework:
    """A global generator: its state is how many words it has drawn."""

    def __init__(self, state: int) -> None:
        self.state = state

    def draw(self, words: int) -> list[int]:
        drawn = list(range(self.state, self.state + words))
        self.state += words
        return drawn


class Seeded(HeldState):
    def __init__(self, framework: Framework, seed: int) -> None:
        self.framework = framework
        super().__init__(seed)

    def read(self) -> int:
        return self.framework.state

    def write(self, state: int) -> None:
        self.framework.state = state


@given(caller=st.integers(0, 2**64), seed=st.integers(0, 2**64), blocks=st.lists(st.integers(0, 9), max_size=5))
def test_held_state_is_one_stream_and_leaves_the_caller_where_it_was(caller: int, seed: int,
                                                                    blocks: list[int]) -> None:
    """Successive ``with`` blocks continue the held stream; the caller's generator never moves."""
    framework = Framework(caller)
    held = Seeded(framework, seed)
    drawn = []
    for words in blocks:
        with held:
            drawn += framework.draw(words)
        assert framework.state == caller
    assert drawn == list(range(seed, seed + sum(blocks)))
    assert held.held == seed + sum(blocks)


def test_held_state_puts_the_caller_back_when_the_block_raises() -> None:
    framework = Framework(5)
    held = Seeded(framework, 100)
    with pytest.raises(RuntimeError), held:
        framework.draw(3)
        raise RuntimeError("the call failed")
    assert framework.state == 5 and held.held == 103


def test_held_states_nest_each_restoring_its_caller() -> None:
    """A held state entered inside another's block (a module's hook inside a seeded call) gives
    the outer one its state back on leaving."""
    framework = Framework(0)
    outer, inner = Seeded(framework, 10), Seeded(framework, 20)
    with outer:
        framework.draw(1)
        with inner:
            framework.draw(2)
        framework.draw(1)
    assert (framework.state, outer.held, inner.held) == (0, 12, 22)


class Module:
    """A framework module with a mode of its own, as torch's nn.Module keeps it."""

    def __init__(self) -> None:
        self.training = True

    def train(self) -> Module:
        self.training = True
        return self

    def eval(self) -> Module:
        self.training = False
        return self


def test_module_layer_sets_the_module_mode_and_returns_itself() -> None:
    module = Module()
    layer = ModuleLayer(adapter=None, module=module)
    assert layer.eval() is layer and not module.training
    assert layer.train() is layer and module.training
