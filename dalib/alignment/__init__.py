"""Feature-alignment losses D(F_s, F_t), one module each, all registered by name.

Importing this package imports every built-in discrepancy so that its ``@register``
line runs; `dalib.methods` then finds it by name.
"""

from dalib.alignment.base import Discrepancy
from dalib.alignment.registry import REGISTRY, DiscrepancyEntry, register

from dalib.alignment import adversarial  # noqa: F401  (registers "dann")
from dalib.alignment import cdan, coral, entropy, mmd, ot  # noqa: F401  (dan, jan, deep_coral, cdan, cdan_e, deepjdot, entropy, mcc)
from dalib.alignment import feature_norm, pseudo_label, spectral  # noqa: F401  (afn, pseudo_label, bnm, bsp)

__all__ = ["Discrepancy", "DiscrepancyEntry", "REGISTRY", "register"]
