"""The contract between the checks and the implementations they judge.

It sits below both sides and imports only the engine: adapters and mutants are written against
it, and the checks (refdropout.conformance) read implementations through it.

* ``protocol``: what an implementation is: :class:`Implementation` (the one required method),
  :data:`CAPABILITIES` (the optional ones, each a method), and readers of what an implementation
  declares (:func:`has_capability`, :func:`policies_of`, :func:`dtypes_of`);
* ``policies``: :class:`Policies`, the behaviours it declares where the spec allows more than one;
* ``declarations``: :func:`target`, the decorator by which a plain function declares them (and its
  dtypes and name), the command line's ``--policy`` and ``--dtypes``, and the source of each value;
* ``arrays``: engine tensors to numpy arrays and back, for adapters on numpy-based frameworks.
  It needs numpy, so it is imported on its own (``refdropout.contract.arrays``), never from here.
"""

from .declarations import target
from .policies import DEVICES, POLICY_VALUES, Policies, declared_devices, eval_value, kept_value, reads_p_in_float32
from .protocol import (
    CAPABILITIES,
    DEFAULT_DTYPES,
    Implementation,
    dtypes_of,
    has_capability,
    missing_capabilities,
    policies_of,
)

__all__ = [
    "CAPABILITIES", "DEFAULT_DTYPES", "DEVICES", "POLICY_VALUES", "Implementation", "Policies", "declared_devices",
    "dtypes_of", "has_capability", "eval_value", "kept_value", "missing_capabilities", "policies_of",
    "reads_p_in_float32", "target",
]
