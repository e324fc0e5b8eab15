"""Embedded default benchmark: rotated scikit-learn digits (no files needed).

The 1,797 8×8 digits are shuffled once with a fixed seed and dealt into disjoint,
class-stratified parts, one per rotation angle; each part is rotated by its angle
(bilinear, same 8×8 frame), so the domains share classes but not samples.
"""

from __future__ import annotations

import numpy as np

from dalib.data.domain import Domain, tensor_domain

DEFAULT_ANGLES = (0, 30, 60, 90)
SPLIT_SEED = 12345


def rotated_digits(angles: tuple[int, ...] = DEFAULT_ANGLES) -> list[Domain]:
    """One domain per angle, named ``rot<angle>`` (short ``R<angle>``); x (n, 64) in [0, 1]."""
    from scipy.ndimage import rotate  # imported when the embedded data is built
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.images / 16.0, digits.target.astype(np.int64)
    rng = np.random.default_rng(SPLIT_SEED)
    part = np.empty(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        part[idx] = np.arange(len(idx)) % len(angles)
    class_names = [str(c) for c in range(10)]
    domains = []
    for k, angle in enumerate(angles):
        sel = part == k
        rot = rotate(images[sel], angle, axes=(1, 2), reshape=False, order=1, mode="constant")
        domains.append(tensor_domain(f"rot{angle}", f"R{angle}", class_names,
                                     rot.reshape(len(rot), -1), labels[sel]))
    return domains
