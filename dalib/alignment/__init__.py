"""Feature-alignment losses D(F_s, F_t), one module each, all registered by name.

Importing this package imports every built-in discrepancy so that its ``@register``
line runs; `dalib.methods` then finds it by name.
"""

from dalib.alignment.base import Discrepancy
from dalib.alignment.registry import REGISTRY, DiscrepancyEntry, register

# each import registers the methods its module defines (noqa: F401, imported for that effect)
from dalib.alignment import adversarial, cdan, coral, entropy, mmd, ot  # noqa: F401
from dalib.alignment import feature_norm, pseudo_label, spectral  # noqa: F401
from dalib.alignment import adda, fixmatch, mcd, mdd, pada  # noqa: F401

__all__ = ["Discrepancy", "DiscrepancyEntry", "REGISTRY", "register"]
