"""Exact masks: frameworks' random streams recomputed bit for bit (spec/exact.md).

Where a framework's dropout mask is a documented function of its seed, the engine can compute
that mask itself: JAX (and Flax) draw through Threefry-2x32 (``threefry``, ``jax_random``),
TensorFlow's stateless ops through Philox4x32-10 keyed from a seed pair (``tf_stateless``); a
stream's successive keys follow JAX's split idiom or Flax NNX's ``Rngs`` (``streams``).
Standard library only, like the rest of the engine.
"""
