"""Dropout as an implicit ensemble, made executable (spec/ensemble.md).

A layer with n droppable units has 2^n sub-networks, one per keep mask; dropout trains them all
with shared weights, sampling one per step, and evaluation runs a single network in their place.
This package enumerates that ensemble exactly, so the textbook statements become checkable:

* :mod:`.subnetworks` — the masks and their probabilities, and exact averages over them (ENSEMBLE-2);
* :mod:`.dropconnect` — dropping a unit is dropping its outgoing weights (ENSEMBLE-1);
* :mod:`.networks` — small networks evaluated on every mask at once, the arithmetic and the
  normalised geometric mean of their outputs, and how far weight scaling is from each
  (ENSEMBLE-4, ENSEMBLE-5).

Standard library only, like the rest of the engine: probabilities are ``fractions.Fraction``,
floating-point work runs on the engine's tensors.
"""

from .dropconnect import GAP_ROUNDOFFS, column_mask, dropconnect, dropconnect_gap_bound
from .networks import (
    TABLE_NETWORKS,
    TABLE_RATES,
    Layer,
    Network,
    arithmetic_mean,
    ensemble_outputs,
    normalized_geometric_mean,
    output_distribution,
    table_input,
    toy_network,
    weight_scaling_gaps,
    weight_scaling_table,
)
from .subnetworks import Distribution, SubNetwork, ensemble, exact_rate, mask_matrix, sub_networks

__all__ = [
    "Distribution", "GAP_ROUNDOFFS", "Layer", "Network", "SubNetwork", "TABLE_NETWORKS", "TABLE_RATES",
    "arithmetic_mean", "column_mask", "dropconnect", "dropconnect_gap_bound", "ensemble", "ensemble_outputs",
    "exact_rate", "mask_matrix", "normalized_geometric_mean", "output_distribution", "sub_networks",
    "table_input", "toy_network", "weight_scaling_gaps", "weight_scaling_table",
]
