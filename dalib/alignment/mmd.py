"""Kernel two-sample discrepancies: multi-kernel MMD (DAN) and joint MMD (JAN).

Kernel parametrisation (`MultiKernel`). On the pooled batch z = [x; y] let
D_ij = ‖z_i − z_j‖². The bandwidth rule sets σ₀² on detached values: ``median`` (default)
σ₀² = median_{i<j} D_ij (the median heuristic; mean of the two middle values for an even
count as in ``numpy.median``; if that median is 0 the mean of D is used), ``mean``
σ₀² = mean_{i<j} D_ij = Σ_{i≠j} D_ij / (n² − n) (the rule of widely used DAN/JAN code);
either is replaced by 1 when D is all zero. With multipliers s_m (default 2^-2, 2^-1, 1, 2,
2^2) and σ_m² = s_m·σ₀², the kernel is the equal-weight convex combination

    gaussian (`GaussianKernels`, default):    k(a, b) = (1/M) Σ_m exp(−‖a − b‖² / (2·σ_m²)),
    laplacian (`LaplacianKernels`):           k(a, b) = (1/M) Σ_m exp(−‖a − b‖ / σ_m),

i.e. DAN's β_m = 1/M (Long et al., ICML 2015), so k(a, a) = 1. A fixed ``sigma2`` replaces
σ₀² by a constant. Both estimators of one call share the same kernel (same σ₀²).

Estimators, for x (n_s, d) and y (n_t, d) (Gretton et al., JMLR 2012):
* unbiased U-statistic:  1/(n_s(n_s−1)) Σ_{i≠j} k(x_i,x_j) + 1/(n_t(n_t−1)) Σ_{i≠j} k(y_i,y_j)
  − 2/(n_s n_t) Σ_{i,j} k(x_i,y_j)   (needs n_s, n_t ≥ 2);
* biased V-statistic: same with the diagonals kept and 1/n² normalisers (0 when x == y);
* linear time: with m = min(n_s, n_t) (the first m rows of each are used) and m₂ = ⌊m/2⌋,
  (1/m₂) Σ_i [k(x_{2i−1},x_{2i}) + k(y_{2i−1},y_{2i})
                  − k(x_{2i−1},y_{2i}) − k(x_{2i},y_{2i−1})].

JMMD (Long et al., ICML 2017) replaces k by the product Π_l k_l(z^l, z'^l) over layers.
"""

from __future__ import annotations

import abc
from typing import Sequence

import torch
from torch import Tensor

from dalib.alignment.base import Discrepancy
from dalib.alignment.registry import register
from dalib.errors import DalibError

ESTIMATORS = ("unbiased", "biased", "linear")
BANDWIDTH_RULES = ("median", "mean")


def check_features(f_s: Tensor, f_t: Tensor, method: str, min_samples: int = 1) -> None:
    """Raise `DalibError` unless f_s (n_s, d) and f_t (n_t, d) are 2-D with equal d and enough rows."""
    if f_s.dim() != 2 or f_t.dim() != 2:
        raise DalibError(f"{method}: features must be 2-D (n, d), got shapes {tuple(f_s.shape)} and "
                         f"{tuple(f_t.shape)}; flatten the feature extractor output")
    if f_s.shape[1] != f_t.shape[1]:
        raise DalibError(f"{method}: source features have dim {f_s.shape[1]} but target features have "
                         f"dim {f_t.shape[1]}; pass both domains through the same feature extractor")
    if len(f_s) < min_samples or len(f_t) < min_samples:
        raise DalibError(f"{method}: needs at least {min_samples} samples per domain, got {len(f_s)} "
                         f"source and {len(f_t)} target; increase the batch size")


def require_input(value: Tensor | None, name: str, method: str) -> Tensor:
    """Return ``value`` or raise `DalibError` saying that ``method`` needs argument ``name``."""
    if value is None:
        raise DalibError(f"{method} needs {name}; pass {name}= to the discrepancy (the trainer does so "
                         f"when the model has a classifier head)")
    return value


def _median(vals: Tensor) -> Tensor:
    """``torch.quantile(vals, 0.5)`` of a 1-D tensor — the mean of the two middle values for an even
    count — computed from a sort, which ``torch.func.vmap`` batches (quantile it loops over)."""
    ordered = vals.sort().values
    pos = 0.5 * (len(ordered) - 1)
    lo = int(pos)
    return torch.lerp(ordered[lo], ordered[min(lo + 1, len(ordered) - 1)], pos - lo)


def _sq_dists(a: Tensor, b: Tensor) -> Tensor:
    """Squared Euclidean distances (n_a, n_b) via ‖a‖² + ‖b‖² − 2a·b, clamped at 0."""
    d2 = (a * a).sum(1, keepdim=True) + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return d2.clamp_min(0.0)


class MultiKernel(abc.ABC):
    """Equal-weight sum of M kernels of one family at bandwidths σ_m² = s_m·σ₀² (see the
    module docstring); a subclass gives the family's value at one bandwidth (`single`).

    ``multipliers``: the s_m (default 2^-2..2^2); ``sigma2``: fixed σ₀², or None for the
    ``bandwidth`` rule on the pooled batch (``median`` or ``mean``, see `BANDWIDTH_RULES`).
    """

    def __init__(self, multipliers: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0),
                 sigma2: float | None = None, bandwidth: str = "median") -> None:
        if len(multipliers) == 0 or any(s <= 0 for s in multipliers):
            raise DalibError(f"kernel multipliers must be a non-empty list of positive numbers, got "
                             f"{list(multipliers)}")
        if sigma2 is not None and sigma2 <= 0:
            raise DalibError(f"kernel bandwidth sigma2 must be positive or None, got {sigma2}")
        if bandwidth not in BANDWIDTH_RULES:
            raise DalibError(f"unknown kernel bandwidth rule {bandwidth!r}; choose one of {', '.join(BANDWIDTH_RULES)}")
        self.multipliers = tuple(float(s) for s in multipliers)
        self.sigma2 = sigma2
        self.bandwidth = bandwidth

    def base_sigma2(self, z: Tensor) -> Tensor:
        """σ₀² for the pooled sample z (n, d): fixed, or the detached median / mean of D_ij, i < j."""
        if self.sigma2 is not None:
            return torch.tensor(self.sigma2, dtype=z.dtype, device=z.device)
        with torch.no_grad():
            n = len(z)
            d2 = _sq_dists(z, z)
            iu = torch.triu_indices(n, n, offset=1, device=z.device)
            vals = d2[iu[0], iu[1]]
            if vals.numel() == 0:
                return torch.ones((), dtype=z.dtype, device=z.device)
            if self.bandwidth == "mean":
                est = vals.mean()
            else:
                est = _median(vals) if vals.numel() <= 2 ** 24 else vals.median()
                est = torch.where(est > 0, est, vals.mean())
            return torch.where(est > 0, est, torch.ones_like(est))

    @abc.abstractmethod
    def single(self, d2: Tensor, s: float, sigma2: Tensor) -> Tensor:
        """One kernel of the family at squared distances d2 (any shape) and bandwidth σ² = s·σ₀²."""

    def from_sq_dists(self, d2: Tensor, sigma2: Tensor) -> Tensor:
        """Apply k to squared distances d2 (any shape): (1/M) Σ_m single(d2, s_m, σ₀²)."""
        terms = [self.single(d2, s, sigma2) for s in self.multipliers]
        return sum(terms) / len(terms)

    def gram(self, z: Tensor, sigma2: Tensor | None = None) -> Tensor:
        """Gram matrix (n, n) of the pooled sample z (n, d); σ₀² from z unless given."""
        sigma2 = self.base_sigma2(z) if sigma2 is None else sigma2
        d2 = _sq_dists(z, z)
        d2 = d2.masked_fill(torch.eye(len(z), dtype=torch.bool, device=z.device), 0.0)
        return self.from_sq_dists(d2, sigma2)

    def paired(self, a: Tensor, b: Tensor, sigma2: Tensor) -> Tensor:
        """Row-wise k(a_i, b_i) (n,) for a, b (n, d)."""
        return self.from_sq_dists(((a - b) ** 2).sum(1), sigma2)


class GaussianKernels(MultiKernel):
    """Gaussian multi-kernel: k(a, b) = (1/M) Σ_m exp(−‖a − b‖² / (2·s_m·σ₀²))."""

    def single(self, d2: Tensor, s: float, sigma2: Tensor) -> Tensor:
        return torch.exp(-d2 / (2.0 * s * sigma2))


class LaplacianKernels(MultiKernel):
    """Laplacian (exponential) multi-kernel: k(a, b) = (1/M) Σ_m exp(−‖a − b‖ / √(s_m·σ₀²)).

    ‖a − b‖ = √D is taken with a zero gradient at D = 0 (the kernel has a kink there).
    """

    def single(self, d2: Tensor, s: float, sigma2: Tensor) -> Tensor:
        positive = d2 > 0
        dist = torch.where(positive, torch.where(positive, d2, 1.0).sqrt(), 0.0)
        return torch.exp(-dist / torch.sqrt(s * sigma2))


KERNELS: dict[str, type[MultiKernel]] = {"gaussian": GaussianKernels, "laplacian": LaplacianKernels}


def make_kernel(kernel: str, method: str, multipliers: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0),
                sigma2: float | None = None, bandwidth: str = "median") -> MultiKernel:
    """The multi-kernel of family ``kernel`` (a `KERNELS` name) for term ``method``; one line if unknown."""
    if kernel not in KERNELS:
        raise DalibError(f"{method}: unknown kernel {kernel!r}; choose one of {', '.join(KERNELS)}")
    return KERNELS[kernel](multipliers, sigma2, bandwidth)


def _unbiased_from_gram(k: Tensor, n_s: int) -> Tensor:
    n_t = len(k) - n_s
    kxx, kyy, kxy = k[:n_s, :n_s], k[n_s:, n_s:], k[:n_s, n_s:]
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (n_s * (n_s - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (n_t * (n_t - 1))
    return sxx + syy - 2.0 * kxy.mean()


def _biased_from_gram(k: Tensor, n_s: int) -> Tensor:
    kxx, kyy, kxy = k[:n_s, :n_s], k[n_s:, n_s:], k[:n_s, n_s:]
    return kxx.mean() + kyy.mean() - 2.0 * kxy.mean()


def jmmd2(xs: Sequence[Tensor], ys: Sequence[Tensor], kernels: Sequence[MultiKernel],
          estimator: str = "unbiased") -> Tensor:
    """Joint MMD² with the product kernel Π_l k_l over layers (Long et al., ICML 2017, eq. 10).

    ``xs[l]`` is (n_s, d_l), ``ys[l]`` is (n_t, d_l); ``kernels[l]`` acts on layer l, with its
    bandwidth from the pooled layer-l batch. ``estimator``: "unbiased" (needs n_s, n_t ≥ 2),
    "biased", or "linear" (first min(n_s, n_t) rows, needs ≥ 2). One layer gives plain MMD².
    Returns a scalar.
    """
    if estimator not in ESTIMATORS:
        raise DalibError(f"unknown MMD estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    if not (len(xs) == len(ys) == len(kernels)) or len(xs) == 0:
        raise DalibError(f"jmmd2 needs as many source layers, target layers and kernels, got "
                         f"{len(xs)}, {len(ys)} and {len(kernels)}")
    for x, y in zip(xs, ys):
        check_features(x, y, "MMD", min_samples=1 if estimator == "biased" else 2)
    n_s, n_t = len(xs[0]), len(ys[0])
    if any(len(x) != n_s for x in xs) or any(len(y) != n_t for y in ys):
        raise DalibError("jmmd2: every layer must hold the same samples; pass equally long layers")
    if estimator == "linear":
        m2 = min(n_s, n_t) // 2
        total = None
        for x, y, kern in zip(xs, ys, kernels):
            s2 = kern.base_sigma2(torch.cat([x, y]))
            x1, x2, y1, y2 = x[0:2 * m2:2], x[1:2 * m2:2], y[0:2 * m2:2], y[1:2 * m2:2]
            parts = torch.stack([kern.paired(x1, x2, s2), kern.paired(y1, y2, s2),
                                 kern.paired(x1, y2, s2), kern.paired(x2, y1, s2)])
            total = parts if total is None else total * parts
        assert total is not None
        return (total[0] + total[1] - total[2] - total[3]).mean()
    gram = None
    for x, y, kern in zip(xs, ys, kernels):
        g = kern.gram(torch.cat([x, y]))
        gram = g if gram is None else gram * g
    assert gram is not None
    return _unbiased_from_gram(gram, n_s) if estimator == "unbiased" else _biased_from_gram(gram, n_s)


def mmd2_unbiased(x: Tensor, y: Tensor, kernel: MultiKernel | None = None) -> Tensor:
    """Unbiased MMD² U-statistic between x (n_s, d) and y (n_t, d); diagonals excluded."""
    return jmmd2([x], [y], [kernel or GaussianKernels()], "unbiased")


def mmd2_biased(x: Tensor, y: Tensor, kernel: MultiKernel | None = None) -> Tensor:
    """Biased MMD² V-statistic (diagonals kept) between x (n_s, d) and y (n_t, d); ≥ 0."""
    return jmmd2([x], [y], [kernel or GaussianKernels()], "biased")


def mmd2_linear(x: Tensor, y: Tensor, kernel: MultiKernel | None = None) -> Tensor:
    """Gretton's linear-time MMD² over pairs (x_{2i−1}, x_{2i}, y_{2i−1}, y_{2i}).

    x (n_s, d), y (n_t, d); if n_s ≠ n_t only the first min(n_s, n_t) rows of each are used
    (and the last row when that count is odd). Unbiased but with higher variance.
    """
    return jmmd2([x], [y], [kernel or GaussianKernels()], "linear")


def _check_estimator(estimator: str, method: str) -> None:
    if estimator not in ESTIMATORS:
        raise DalibError(f"{method}: unknown estimator {estimator!r}; choose one of "
                         f"{', '.join(ESTIMATORS)}")


@register("dan", family="alignment", weight=1.0, estimator="unbiased", kernel="gaussian", bandwidth="median",
          multipliers=(0.25, 0.5, 1.0, 2.0, 4.0))
class DAN(Discrepancy):
    """DAN: multi-kernel MMD² between source and target features (Long et al., ICML 2015).

    D(F_s, F_t) = MMD²_k(f_s, f_t) with the multi-kernel of `MultiKernel`: family ``kernel``
    ("gaussian" default, or "laplacian"), σ₀² by the ``bandwidth`` rule on the pooled batch
    ("median" default, or "mean") × ``multipliers``, equal weights β_m = 1/M.
    f_s (n_s, d), f_t (n_t, d); ``estimator`` "unbiased" (default), "linear" or "biased".
    Logits and labels are ignored; DAN's per-layer sum is left to stacking several terms.
    """

    def __init__(self, feature_dim: int, num_classes: int, estimator: str = "unbiased",
                 kernel: str = "gaussian", bandwidth: str = "median",
                 multipliers: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0)) -> None:
        super().__init__(feature_dim, num_classes)
        _check_estimator(estimator, "dan")
        self.estimator = estimator
        self.kernel = make_kernel(kernel, "dan", multipliers, bandwidth=bandwidth)

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        check_features(f_s, f_t, "dan", min_samples=2)
        return jmmd2([f_s], [f_t], [self.kernel], self.estimator)


@register("jan", family="alignment", weight=1.0, estimator="unbiased", kernel="gaussian", bandwidth="median",
          multipliers=(0.25, 0.5, 1.0, 2.0, 4.0), softmax_sigma2=0.845)
class JAN(Discrepancy):
    """JAN: joint MMD² of (features, softmax predictions) (Long et al., ICML 2017).

    D = JMMD² with k((f, g), (f', g')) = k_f(f, f')·k_g(g, g'), g = softmax(logits), both of
    family ``kernel`` ("gaussian" default, or "laplacian"; see `MultiKernel`). k_f is the
    multi-kernel with σ₀² by the ``bandwidth`` rule ("median" default, or "mean") ×
    ``multipliers``; k_g a single kernel with fixed σ² = ``softmax_sigma2`` (0.845, i.e.
    2σ² ≈ 1.69, the value commonly used for JAN's softmax layer; None = the bandwidth rule ×
    ``multipliers``). The softmax is not detached.
    f_s (n_s, d), f_t (n_t, d), logits_s (n_s, C), logits_t (n_t, C); labels are ignored.
    """

    def __init__(self, feature_dim: int, num_classes: int, estimator: str = "unbiased",
                 kernel: str = "gaussian", bandwidth: str = "median",
                 multipliers: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0),
                 softmax_sigma2: float | None = 0.845) -> None:
        super().__init__(feature_dim, num_classes)
        _check_estimator(estimator, "jan")
        self.estimator = estimator
        self.feature_kernel = make_kernel(kernel, "jan", multipliers, bandwidth=bandwidth)
        self.softmax_kernel = (make_kernel(kernel, "jan", multipliers, bandwidth=bandwidth)
                               if softmax_sigma2 is None else make_kernel(kernel, "jan", (1.0,), softmax_sigma2))

    def forward(self, f_s: Tensor, f_t: Tensor, *, logits_s: Tensor | None = None,
                logits_t: Tensor | None = None, y_s: Tensor | None = None,
                w_s: Tensor | None = None, progress: float = 0.0) -> Tensor:
        logits_s = require_input(logits_s, "logits_s", "jan")
        logits_t = require_input(logits_t, "logits_t", "jan")
        check_features(f_s, f_t, "jan", min_samples=2)
        check_features(logits_s, logits_t, "jan (logits)", min_samples=2)
        if len(logits_s) != len(f_s) or len(logits_t) != len(f_t):
            raise DalibError("jan: logits and features hold different numbers of samples; pass the "
                             "logits of the same batch")
        g_s, g_t = logits_s.softmax(1), logits_t.softmax(1)
        return jmmd2([f_s, g_s], [f_t, g_t], [self.feature_kernel, self.softmax_kernel], self.estimator)
