"""Exact masks: frameworks' random streams recomputed bit for bit (spec/exact.md).

Where a framework's dropout mask is a documented function of its seed, the engine can compute
that mask itself: JAX (and Flax) draw through Threefry-2x32 (``threefry``, ``jax_random``),
TensorFlow's stateless ops through Philox4x32-10 keyed from a seed pair (``tf_stateless``, which
also draws from a ``tf.random.Generator``'s counter); PyTorch's fused CUDA dropout kernel through
curand's Philox at a seed and an offset (``torch_cuda``: derived from the sources, unverified against
a GPU); a stream's successive keys follow JAX's split idiom, Flax NNX's ``Rngs``, a TensorFlow
generator, a Keras ``SeedGenerator`` or PyTorch's CUDA offsets (``streams``).
Standard library only, like the rest of the engine.
"""
