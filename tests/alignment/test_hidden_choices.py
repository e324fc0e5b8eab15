"""No hidden choices: discriminator shape and MMD kernel family / bandwidth rule are settable
hyper-parameters, registered (so `dalib methods` lists them) with the current defaults."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from torch import nn

from dalib.alignment.adversarial import DANN, DomainDiscriminator
from dalib.alignment.cdan import CDAN, CDANE
from dalib.alignment.mmd import DAN, JAN, LaplacianKernels, make_kernel
from dalib.errors import DalibError
from dalib.methods import REGISTRY

MULTS = (0.25, 0.5, 1.0, 2.0, 4.0)


# Kills: a constructor parameter of any term missing from its @register line (a choice
# `dalib methods` does not list), or a registered default that differs from the signature's
# (e.g. dropout=0.5 registered but 0.0 built).
def test_every_constructor_choice_is_registered_with_its_default():
    skip = {"self", "feature_dim", "num_classes", "model"}
    for name, entry in REGISTRY.items():
        params = {k: p.default for k, p in inspect.signature(entry.cls.__init__).parameters.items()
                  if k not in skip and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        assert set(params) <= set(entry.defaults), f"{name}: unregistered {set(params) - set(entry.defaults)}"
        assert {k: entry.defaults[k] for k in params} == params, name
    for name in ("dann", "cdan", "cdan_e"):
        assert {k: REGISTRY[name].defaults[k] for k in ("hidden", "depth", "dropout")} == \
            {"hidden": 256, "depth": 2, "dropout": 0.5}
    for name in ("dan", "jan"):
        assert (REGISTRY[name].defaults["kernel"], REGISTRY[name].defaults["bandwidth"]) == ("gaussian", "median")


# Kills: ``depth`` ignored (always two hidden blocks) or off by one (range(depth - 1)), ``hidden``
# or ``dropout`` not used, the last layer not 1 logit, BatchNorm or ReLU dropped.
@pytest.mark.parametrize("hidden,depth,dropout", [(5, 0, 0.1), (5, 1, 0.2), (7, 3, 0.0), (256, 2, 0.5)])
def test_discriminator_layers_follow_hidden_depth_dropout(hidden, depth, dropout):
    disc = DomainDiscriminator(6, hidden=hidden, depth=depth, dropout=dropout)
    assert [type(m).__name__ for m in disc] == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * depth + ["Linear"]
    linears = [m for m in disc if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == \
        [(6 if i == 0 else hidden, hidden) for i in range(depth)] + [(6 if depth == 0 else hidden, 1)]
    assert [m.p for m in disc if isinstance(m, nn.Dropout)] == [dropout] * depth


# Kills: DANN / CDAN / CDAN+E not passing depth or dropout on to their discriminator.
@pytest.mark.parametrize("cls", [DANN, CDAN, CDANE])
def test_adversarial_terms_pass_the_shape_on(cls):
    disc = cls(6, 3, hidden=9, depth=1, dropout=0.25).discriminator
    assert sum(isinstance(m, nn.Linear) for m in disc) == 2 and disc[0].out_features == 9
    assert [m.p for m in disc if isinstance(m, nn.Dropout)] == [0.25]


# Kills: dropout=0 not reaching the module (DANN building its discriminator with the default
# 0.5): in train mode two passes over one batch then differ. The dropout=0.5 control shows the
# comparison can fail.
@pytest.mark.parametrize("cls", [DANN, CDAN])
def test_dropout_zero_gives_a_deterministic_discriminator_in_train_mode(cls):
    torch.manual_seed(0)
    f_s, f_t = torch.randn(8, 6), torch.randn(8, 6)
    logits = {} if cls is DANN else {"logits_s": torch.randn(8, 3), "logits_t": torch.randn(8, 3)}
    losses = {}
    for dropout in (0.0, 0.5):
        term = cls(6, 3, hidden=16, dropout=dropout).train()
        losses[dropout] = [term(f_s, f_t, progress=0.5, **logits).item() for _ in range(2)]
    assert losses[0.0][0] == losses[0.0][1]
    assert losses[0.5][0] != losses[0.5][1]


@pytest.mark.parametrize("kwargs,fragment", [
    ({"hidden": 0}, "hidden must be an integer ≥ 1"),
    ({"depth": -1}, "depth must be an integer ≥ 0"),
    ({"depth": 1.5}, "depth must be an integer ≥ 0"),
    ({"dropout": 1.0}, "dropout must be a number in [0, 1)"),
    ({"dropout": -0.1}, "dropout must be a number in [0, 1)"),
])
def test_discriminator_refuses_bad_shapes(kwargs, fragment):
    with pytest.raises(DalibError, match=fragment.replace("[", r"\[").replace(")", r"\)")):
        DomainDiscriminator(4, **kwargs)


def _np_pairwise_d2(z: np.ndarray) -> np.ndarray:
    return ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)


def _np_sigma2(z: np.ndarray, rule: str) -> float:
    d2 = _np_pairwise_d2(z)
    upper = d2[np.triu_indices(len(z), 1)]
    return float(np.median(upper) if rule == "median" else upper.mean())


def _np_kernel(d2: np.ndarray, sigma2: float, family: str, mults=MULTS) -> np.ndarray:
    if family == "gaussian":
        return np.mean([np.exp(-d2 / (2 * s * sigma2)) for s in mults], axis=0)
    return np.mean([np.exp(-np.sqrt(d2) / np.sqrt(s * sigma2)) for s in mults], axis=0)


def _np_mmd2(k: np.ndarray, n_s: int, estimator: str) -> float:
    """Brute-force U / V / linear statistic from the pooled Gram matrix k (n_s + n_t, n_s + n_t)."""
    n_t = len(k) - n_s
    if estimator == "linear":
        m2 = min(n_s, n_t) // 2
        total = 0.0
        for i in range(m2):
            a, b, c, d = 2 * i, 2 * i + 1, n_s + 2 * i, n_s + 2 * i + 1
            total += k[a, b] + k[c, d] - k[a, d] - k[b, c]
        return total / m2
    kxx, kyy, kxy = k[:n_s, :n_s], k[n_s:, n_s:], k[:n_s, n_s:]
    if estimator == "biased":
        return kxx.mean() + kyy.mean() - 2 * kxy.mean()
    off = lambda m: m.sum() - np.trace(m)  # noqa: E731
    return off(kxx) / (n_s * (n_s - 1)) + off(kyy) / (n_t * (n_t - 1)) - 2 * kxy.mean()


# Brute force with numpy loops / broadcasting: k(a, b) = (1/M) Σ_m exp(−‖a − b‖ / √(s_m σ₀²)).
# Kills: the Laplacian reusing the Gaussian formula (exp(−D/(2sσ₀²))), ‖a − b‖² in place of
# ‖a − b‖ (sqrt dropped), the bandwidth not square-rooted (÷ s·σ₀²), the family ignored by
# the linear estimator (paired path), and ``kernel`` not passed on by DAN.
@pytest.mark.parametrize("estimator", ["unbiased", "biased", "linear"])
def test_laplacian_dan_matches_numpy(estimator):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 3)), rng.normal(0.7, 1.3, size=(5, 3))
    z = np.concatenate([x, y])
    ref = _np_mmd2(_np_kernel(_np_pairwise_d2(z), _np_sigma2(z, "median"), "laplacian"), len(x), estimator)
    got = DAN(3, 2, estimator=estimator, kernel="laplacian")(torch.from_numpy(x), torch.from_numpy(y)).item()
    assert got == pytest.approx(ref, rel=1e-9)
    gauss = DAN(3, 2, estimator=estimator)(torch.from_numpy(x), torch.from_numpy(y)).item()
    assert abs(gauss - ref) > 1e-3  # the default family is still the Gaussian


# σ₀² = mean_{i<j} D_ij = Σ_{i≠j} D_ij / (n² − n). Kills: the rule
# ignored (median used), the mean taken over all n² entries (zero diagonal included), and
# ``bandwidth`` not passed on by DAN.
@pytest.mark.parametrize("family", ["gaussian", "laplacian"])
def test_mean_bandwidth_rule_matches_numpy(family):
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(5, 4)), rng.normal(0.5, 1.0, size=(4, 4))
    z = np.concatenate([x, y])
    ref = _np_mmd2(_np_kernel(_np_pairwise_d2(z), _np_sigma2(z, "mean"), family), len(x), "unbiased")
    got = DAN(4, 2, kernel=family, bandwidth="mean")(torch.from_numpy(x), torch.from_numpy(y)).item()
    assert got == pytest.approx(ref, rel=1e-9)
    assert make_kernel(family, "dan", bandwidth="mean").base_sigma2(torch.from_numpy(z)).item() == \
        pytest.approx(_np_sigma2(z, "mean"), rel=1e-12)


# JMMD with the product of two Laplacian kernels, features at the median rule × MULTS and the
# softmax layer at the fixed σ² = 0.845. Kills: JAN's ``kernel`` reaching only one of its layers.
def test_laplacian_jan_matches_numpy():
    rng = np.random.default_rng(7)
    fx, fy = rng.normal(size=(5, 3)), rng.normal(0.4, 1.0, size=(4, 3))
    lx, ly = rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
    softmax = lambda a: np.exp(a) / np.exp(a).sum(1, keepdims=True)  # noqa: E731
    zf, zg = np.concatenate([fx, fy]), np.concatenate([softmax(lx), softmax(ly)])
    k = (_np_kernel(_np_pairwise_d2(zf), _np_sigma2(zf, "median"), "laplacian")
         * _np_kernel(_np_pairwise_d2(zg), 0.845, "laplacian", mults=(1.0,)))
    t = torch.from_numpy
    got = JAN(3, 2, kernel="laplacian")(t(fx), t(fy), logits_s=t(lx), logits_t=t(ly)).item()
    assert got == pytest.approx(_np_mmd2(k, 5, "unbiased"), rel=1e-9)


# Kills: a plain sqrt of the squared distance, whose gradient at D = 0 (two equal samples) is
# inf and turns every gradient into nan.
def test_laplacian_gradient_is_finite_with_repeated_samples():
    x = torch.tensor([[0.0, 1.0], [0.0, 1.0], [2.0, 0.5]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.5, 0.5]], dtype=torch.float64)
    for estimator in ("unbiased", "linear"):
        DAN(2, 2, estimator=estimator, kernel="laplacian")(x, y).backward()
        assert torch.isfinite(x.grad).all()
    assert LaplacianKernels().from_sq_dists(torch.zeros(2), torch.tensor(1.0)).tolist() == [1.0, 1.0]


def test_unknown_kernel_or_bandwidth_rule_is_one_line():
    with pytest.raises(DalibError, match="dan: unknown kernel 'cauchy'; choose one of gaussian, laplacian"):
        DAN(3, 2, kernel="cauchy")
    with pytest.raises(DalibError, match="unknown kernel bandwidth rule 'max'; choose one of median, mean"):
        JAN(3, 2, bandwidth="max")
