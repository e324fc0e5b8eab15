"""BNM, BSP and AFN against closed forms and numpy's SVD; each test names the mutants it kills."""

import math

import numpy as np
import pytest
import torch

from dalib.alignment.feature_norm import AFN, stepwise_feature_norm_loss
from dalib.alignment.spectral import BNM, BSP, bnm_loss
from dalib.errors import DalibError
from dalib.methods import build_terms, resolve_method


# Kills: a missing 1/n, a flipped sign (minimising the nuclear norm), the Frobenius norm (√n for
# one-hot rows) in place of the nuclear norm, singular values of the logits instead of the
# softmax. Closed form: one-hot predictions with n_c rows of class c give L = −Σ √n_c / n.
def test_bnm_one_hot_closed_form():
    counts = [5, 3, 0, 1]
    labels = torch.tensor([c for c, n in enumerate(counts) for _ in range(n)])
    logits = 60.0 * torch.nn.functional.one_hot(labels, 4).double()  # softmax = one-hot to 1e-26
    expected = -sum(math.sqrt(n) for n in counts) / sum(counts)
    assert bnm_loss(logits).item() == pytest.approx(expected, rel=1e-12)
    term = BNM(feature_dim=2, num_classes=4)
    assert term(torch.zeros(2, 2, dtype=torch.float64), torch.zeros(9, 2, dtype=torch.float64), logits_t=logits).item() == pytest.approx(expected, rel=1e-12)


# Kills: any deviation from the nuclear norm of the softmax on a generic batch (numpy's SVD as the
# reference), and a gradient that does not raise the nuclear norm (a step along −∇L must).
def test_bnm_matches_numpy_and_descends_toward_larger_nuclear_norm():
    logits = torch.randn(12, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64, requires_grad=True)
    probs = torch.softmax(logits, 1).detach().numpy()
    assert bnm_loss(logits).item() == pytest.approx(-np.linalg.svd(probs, compute_uv=False).sum() / 12, rel=1e-12)
    bnm_loss(logits).backward()
    stepped = (logits - 0.5 * logits.grad).detach()
    assert bnm_loss(stepped).item() < bnm_loss(logits).item()


# Kills: the smallest singular values (BSS) instead of the largest, σ instead of σ², a missing
# target (or source) term, k ignored. Features U·diag(s)·Vᵀ have singular values s exactly.
def test_bsp_is_the_energy_of_the_top_k_singular_values_of_both_domains():
    rng = np.random.default_rng(0)

    def batch(s):
        u, _ = np.linalg.qr(rng.normal(size=(10, len(s))))
        v, _ = np.linalg.qr(rng.normal(size=(6, len(s))))
        return torch.tensor(u @ np.diag(s) @ v.T)

    f_s, f_t = batch([4.0, 2.0, 1.0]), batch([3.0, 0.5, 0.25])
    assert BSP(6, 3)(f_s, f_t).item() == pytest.approx(16.0 + 9.0, rel=1e-10)
    assert BSP(6, 3, k=2)(f_s, f_t).item() == pytest.approx(16.0 + 4.0 + 9.0 + 0.25, rel=1e-10)


# Kills: a norm target without the stop-gradient (the loss is then constant Δr² with zero
# gradient), the sign of Δr, squared norms in place of norms, a missing domain. The value is
# Δr² per domain and the gradient −2Δr·f_i / (n‖f_i‖).
def test_afn_value_and_gradient_closed_form():
    f_s = torch.tensor([[3.0, 4.0], [0.0, 2.0]], dtype=torch.float64, requires_grad=True)
    f_t = torch.tensor([[1.0, 0.0], [0.0, -1.0], [6.0, 8.0]], dtype=torch.float64, requires_grad=True)
    loss = AFN(2, 3, delta_r=0.5)(f_s, f_t)
    assert loss.item() == pytest.approx(2 * 0.25, rel=1e-12)
    loss.backward()
    for f, n in ((f_s, 2), (f_t, 3)):
        unit = f.detach() / f.detach().norm(dim=1, keepdim=True)
        torch.testing.assert_close(f.grad, -2 * 0.5 * unit / n)
    assert stepwise_feature_norm_loss(f_s.detach(), 2.0).item() == pytest.approx(4.0)


def test_registry_defaults_and_bad_settings():
    terms = build_terms(resolve_method("dann+bsp"), 8, 3, {})
    assert [t.weight for t in terms][1] == 1e-4
    with pytest.raises(DalibError, match=r"^bsp: k must be an integer ≥ 1"):
        BSP(4, 2, k=0)
    with pytest.raises(DalibError, match=r"^afn: delta_r must be positive"):
        AFN(4, 2, delta_r=0.0)
    with pytest.raises(DalibError, match=r"^bnm needs logits_t"):
        BNM(4, 2)(torch.zeros(3, 4), torch.zeros(3, 4))


Z4, Z5 = torch.zeros(2, 4), torch.zeros(2, 5)
MESSAGES = {
    "bnm": (lambda: BNM(4, 3)(Z4, Z4, logits_t=torch.zeros(2, 2)),
            "bnm: logits_t has shape (2, 2), expected (n_t, 3), n_t ≥ 1; pass the classifier outputs of the "
            "target batch"),
    "bnm empty": (lambda: BNM(4, 3)(Z4, Z4, logits_t=torch.zeros(0, 3)),
                  "bnm: logits_t has shape (0, 3), expected (n_t, 3), n_t ≥ 1; pass the classifier outputs of "
                  "the target batch"),
    "bsp": (lambda: BSP(4, 3)(Z4, Z5), "bsp: source features have dim 4 but target features have dim 5; pass both "
            "domains through the same feature extractor"),
    "afn": (lambda: AFN(4, 3)(Z4, Z5), "afn: source features have dim 4 but target features have dim 5; pass both "
            "domains through the same feature extractor"),
}


# Kills: an error message that names another term (or none).
@pytest.mark.parametrize("case", sorted(MESSAGES))
def test_messages_name_the_term(case):
    call, expected = MESSAGES[case]
    with pytest.raises(DalibError) as err:
        call()
    assert str(err.value) == expected


# Kills: another default Δr (the value is 2·Δr² for two domains), terms that lose their sizes.
def test_defaults_and_sizes():
    f = torch.ones(3, 2, dtype=torch.float64)
    assert AFN(2, 3)(f, f).item() == pytest.approx(2.0)
    for term in (AFN(6, 3), BSP(6, 3), BNM(6, 3)):
        assert (term.feature_dim, term.num_classes) == (6, 3)
