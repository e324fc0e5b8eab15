"""Every alignment loss names itself, the bad argument and the fix, in one exact line.

Exact messages: each check passes the loss's name and the argument's name into the message, and a
message that loses either (or gets them in the wrong case) no longer tells the user what to fix.
"""

from __future__ import annotations

import pytest
import torch

from dalib.alignment.base import Discrepancy
from dalib.alignment.cdan import CDAN, CDANE
from dalib.alignment.coral import DeepCORAL
from dalib.alignment.entropy import MCC, EntropyMinimization
from dalib.alignment.mmd import DAN, JAN, GaussianKernels, jmmd2
from dalib.alignment.ot import DeepJDOT, deepjdot_coupling
from dalib.alignment.schedules import lambda_schedule
from dalib.errors import DalibError

R = torch.randn
NEEDS = "; pass {arg}= to the discrepancy (the trainer does so when the model has a classifier head)"


def needs(method: str, arg: str) -> str:
    return f"{method} needs {arg}" + NEEDS.format(arg=arg)


def few(method: str, n_s: int, n_t: int) -> str:
    return (f"{method}: needs at least 2 samples per domain, got {n_s} source and {n_t} target; "
            "increase the batch size")


CASES = {
    "dan rows": (lambda: DAN(3, 2)(R(1, 3), R(4, 3)), few("dan", 1, 4)),
    "dan estimator": (lambda: DAN(3, 2, estimator="quad"),
                      "dan: unknown estimator 'quad'; choose one of unbiased, biased, linear"),
    "jan estimator": (lambda: JAN(3, 2, estimator="quad"),
                      "jan: unknown estimator 'quad'; choose one of unbiased, biased, linear"),
    "jan logits_s": (lambda: JAN(3, 2)(R(4, 3), R(4, 3), logits_t=R(4, 2)), needs("jan", "logits_s")),
    "jan logits_t": (lambda: JAN(3, 2)(R(4, 3), R(4, 3), logits_s=R(4, 2)), needs("jan", "logits_t")),
    "jan rows": (lambda: JAN(3, 2)(R(4, 3), R(1, 3), logits_s=R(4, 2), logits_t=R(1, 2)), few("jan", 4, 1)),
    "jan logit rows": (lambda: JAN(3, 2)(R(4, 3), R(4, 3), logits_s=R(1, 2), logits_t=R(4, 2)),
                       few("jan (logits)", 1, 4)),
    "jan logit count": (lambda: JAN(3, 2)(R(4, 3), R(4, 3), logits_s=R(4, 2), logits_t=R(5, 2)),
                        "jan: logits and features hold different numbers of samples; pass the logits of "
                        "the same batch"),
    "jan logit count s": (lambda: JAN(3, 2)(R(4, 3), R(4, 3), logits_s=R(5, 2), logits_t=R(4, 2)),
                          "jan: logits and features hold different numbers of samples; pass the logits of "
                          "the same batch"),
    "jmmd2 estimator": (lambda: jmmd2([R(3, 2)], [R(3, 2)], [GaussianKernels()], "quad"),
                        "unknown MMD estimator 'quad'; choose one of unbiased, biased, linear"),
    "jmmd2 layers": (lambda: jmmd2([R(3, 2)], [R(3, 2), R(3, 2)], [GaussianKernels()]),
                     "jmmd2 needs as many source layers, target layers and kernels, got 1, 2 and 1"),
    "jmmd2 no layers": (lambda: jmmd2([], [], []),
                        "jmmd2 needs as many source layers, target layers and kernels, got 0, 0 and 0"),
    "jmmd2 rows": (lambda: jmmd2([R(1, 2)], [R(3, 2)], [GaussianKernels()]), few("MMD", 1, 3)),
    "jmmd2 linear rows": (lambda: jmmd2([R(1, 2)], [R(3, 2)], [GaussianKernels()], "linear"), few("MMD", 1, 3)),
    "jmmd2 lengths s": (lambda: jmmd2([R(3, 2), R(4, 2)], [R(3, 2), R(3, 2)], [GaussianKernels()] * 2),
                        "jmmd2: every layer must hold the same samples; pass equally long layers"),
    "jmmd2 lengths t": (lambda: jmmd2([R(3, 2), R(3, 2)], [R(3, 2), R(4, 2)], [GaussianKernels()] * 2),
                        "jmmd2: every layer must hold the same samples; pass equally long layers"),
    "entropy logits_t": (lambda: EntropyMinimization(3, 4)(R(2, 3), R(2, 3)), needs("entropy", "logits_t")),
    "entropy shape": (lambda: EntropyMinimization(3, 4)(R(2, 3), R(2, 3), logits_t=R(2, 3)),
                      "entropy: logits_t has shape (2, 3), expected (n_t, 4), n_t ≥ 1; pass the classifier "
                      "outputs of the target batch"),
    "mcc logits_t": (lambda: MCC(3, 4)(R(2, 3), R(2, 3)), needs("mcc", "logits_t")),
    "mcc shape": (lambda: MCC(3, 4)(R(2, 3), R(2, 3), logits_t=R(2, 4, 1)),
                  "mcc: logits_t has shape (2, 4, 1), expected (n_t, 4), n_t ≥ 1; pass the classifier "
                  "outputs of the target batch"),
    "cdan logits_s": (lambda: CDAN(3, 2, hidden=4)(R(2, 3), R(2, 3), logits_t=R(2, 2)), needs("cdan", "logits_s")),
    "cdan_e logits_t": (lambda: CDANE(3, 2, hidden=4)(R(2, 3), R(2, 3), logits_s=R(2, 2)),
                        needs("cdan_e", "logits_t")),
    "cdan shape": (lambda: CDAN(3, 2, hidden=4)(R(2, 3), R(2, 3), logits_s=R(2, 2), logits_t=R(2, 5)),
                   "cdan: logits_t has shape (2, 5), expected (2, 2) for the target batch; pass the "
                   "classifier outputs of the same batch"),
    "cdan_e shape": (lambda: CDANE(3, 2, hidden=4)(R(2, 3), R(2, 3), logits_s=R(3), logits_t=R(2, 2)),
                     "cdan_e: logits_s has shape (3,), expected (2, 2) for the source batch; pass the "
                     "classifier outputs of the same batch"),
    "cdan width": (lambda: CDAN(4, 2, hidden=4)(R(2, 3), R(2, 3), logits_s=R(2, 2), logits_t=R(2, 2)),
                   "cdan: features have dim 3 but the discrepancy was built for feature_dim=4; build it "
                   "with the bottleneck width"),
    "cdan rows": (lambda: CDAN(3, 2, hidden=4)(R(2, 3, 1), R(2, 3), logits_s=R(2, 2), logits_t=R(2, 2)),
                  "cdan: features must be 2-D (n, d), got shapes (2, 3, 1) and (2, 3); flatten the "
                  "feature extractor output"),
    "cdan_e rows": (lambda: CDANE(3, 2, hidden=4)(R(2, 3), R(2, 3, 1), logits_s=R(2, 2), logits_t=R(2, 2)),
                    "cdan_e: features must be 2-D (n, d), got shapes (2, 3) and (2, 3, 1); flatten the "
                    "feature extractor output"),
    "deep_coral rows": (lambda: DeepCORAL(3, 2)(R(5, 3), R(1, 3)), few("deep_coral", 5, 1)),
    "deepjdot y_s": (lambda: DeepJDOT(3, 2)(R(2, 3), R(2, 3), logits_t=R(2, 2)), needs("deepjdot", "y_s")),
    "deepjdot logits_t": (lambda: DeepJDOT(3, 2)(R(2, 3), R(2, 3), y_s=torch.zeros(2, dtype=torch.long)),
                          needs("deepjdot", "logits_t")),
    "deepjdot dims": (lambda: DeepJDOT(3, 2)(R(2, 3), R(2, 4), y_s=torch.zeros(2, dtype=torch.long),
                                             logits_t=R(2, 2)),
                      "deepjdot: source features have dim 3 but target features have dim 4; pass both domains "
                      "through the same feature extractor"),
    "deepjdot logits shape": (lambda: DeepJDOT(3, 2)(R(2, 3), R(2, 3), y_s=torch.zeros(2, dtype=torch.long),
                                                     logits_t=R(3, 2)),
                              "deepjdot: logits_t has shape (3, 2), expected (2, C); pass the classifier outputs "
                              "of the target batch"),
    "deepjdot logits dim": (lambda: DeepJDOT(3, 2)(R(2, 3), R(2, 3), y_s=torch.zeros(2, dtype=torch.long),
                                                   logits_t=R(2)),
                            "deepjdot: logits_t has shape (2,), expected (2, C); pass the classifier outputs "
                            "of the target batch"),
    "deepjdot y_s shape": (lambda: DeepJDOT(3, 2)(R(2, 3), R(2, 3), y_s=torch.zeros(3, dtype=torch.long),
                                                  logits_t=R(2, 2)),
                           "deepjdot: y_s has shape (3,), expected (2,); pass one integer label per source sample"),
    "deepjdot negative label": (lambda: DeepJDOT(3, 2)(R(2, 3), R(2, 3), y_s=torch.tensor([0, -1]),
                                                       logits_t=R(2, 2)),
                                "deepjdot: source labels must lie in [0, 2); check the label encoding"),
    "coupling shape": (lambda: deepjdot_coupling(R(0, 3)),
                       "deepjdot: cost must be a non-empty (n_s, n_t) matrix, got shape (0, 3)"),
    "coupling no columns": (lambda: deepjdot_coupling(R(3, 0)),
                            "deepjdot: cost must be a non-empty (n_s, n_t) matrix, got shape (3, 0)"),
    "coupling 1-D": (lambda: deepjdot_coupling(R(3)),
                     "deepjdot: cost must be a non-empty (n_s, n_t) matrix, got shape (3,)"),
    "coupling nan": (lambda: deepjdot_coupling(torch.tensor([[0.0, float("nan")]])),
                     "deepjdot: the transport cost has NaN/inf entries; lower the learning rate or check "
                     "the features"),
    "schedule": (lambda: lambda_schedule("cosine"),
                 "unknown λ schedule 'cosine'; choose one of constant, warm_start"),
}


# Kills: the base class's message losing the subclass name.
def test_base_forward_names_the_subclass():
    class Unfinished(Discrepancy):
        pass

    with pytest.raises(NotImplementedError) as err:
        Unfinished(2, 3)(R(2, 2), R(2, 2))
    assert str(err.value) == "Unfinished must implement forward(f_s, f_t, ...)"


@pytest.mark.parametrize("case", sorted(CASES))
def test_message_is_exact(case):
    call, expected = CASES[case]
    with pytest.raises(DalibError) as err:
        call()
    assert str(err.value) == expected
