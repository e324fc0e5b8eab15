"""What the constructors of the built-in terms build: the registry's defaults, the edges their
argument checks accept and refuse, and the modules a hyper-parameter switches on."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

import dalib.alignment  # noqa: F401  (registers the built-in terms)
import dalib.finetune.regularizers  # noqa: F401  (registers l2sp and bss)
from dalib.alignment.adda import ADDA
from dalib.alignment.adversarial import DomainDiscriminator
from dalib.alignment.fixmatch import FixMatch
from dalib.alignment.mcd import MCD
from dalib.alignment.mdd import MDD
from dalib.alignment.mmd import JAN
from dalib.alignment.pada import PADA
from dalib.alignment.registry import REGISTRY
from dalib.errors import DalibError
from dalib.methods import build_terms, resolve_method
from dalib.models import Classifier, build_backbone

BUILT_IN = sorted(name for name, entry in REGISTRY.items()
                  if entry.cls.__module__.startswith(("dalib.alignment.", "dalib.finetune.")))
CONTEXT = {"self", "feature_dim", "num_classes", "model"}


def _model() -> nn.Module:
    torch.manual_seed(0)
    return Classifier(build_backbone("mlp", 5, hidden=(16,), dropout=0.0), 3, bottleneck_dim=8)


def _settings(obj: object) -> dict[str, object]:
    """The plain (non-module, non-tensor) attributes of a term and of the helper objects it
    holds (kernels), recursively: what its hyper-parameters became."""
    out: dict[str, object] = {}
    for key, value in vars(obj).items():
        if key.startswith("_") or isinstance(value, (nn.Module, torch.Tensor)):
            continue
        if hasattr(value, "__dict__") and not callable(value):
            out.update({f"{key}.{k}": v for k, v in _settings(value).items()})
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_term_built_directly_equals_the_one_the_registry_builds(name):
    # kills: any constructor default changed away from the registered one (MDD's margin, λ_max,
    # γ or hidden, DANN / CDAN / PADA / ADDA discriminator depth, width or dropout, MCD's k, …):
    # a user calling the class would get another method than the bench reports
    entry = REGISTRY[name]
    needs_model = {"model": _model()} if entry.cls.needs_model else {}
    torch.manual_seed(1)
    direct = entry.cls(8, 3, **needs_model)
    torch.manual_seed(1)
    built = build_terms(resolve_method(name), 8, 3, model=needs_model.get("model"))[0].discrepancy
    assert (direct.feature_dim, direct.num_classes) == (8, 3)
    assert repr(direct) == repr(built)
    assert _settings(direct) == _settings(built)
    assert direct.state_dict().keys() == built.state_dict().keys()
    for key, value in direct.state_dict().items():
        assert torch.equal(value, built.state_dict()[key]), key
    # and the registry names exactly the constructor's hyper-parameters, at the same values
    signature = inspect.signature(entry.cls.__init__).parameters
    assert {k: p.default for k, p in signature.items() if k not in CONTEXT} == entry.defaults


@pytest.mark.parametrize("build", [
    lambda: FixMatch(8, 3, threshold=1.0),   # τ = 1 keeps only certain predictions; kills `< 1`
    lambda: FixMatch(8, 3, drop=0.0),        # noise alone; kills `0 < drop`
    lambda: FixMatch(8, 3, noise=0.0),       # dropout alone; kills `noise <= 0`
    lambda: PADA(8, 3, momentum=0.0),        # the last batch's predictions; kills `0 < momentum`
    lambda: MCD(8, 3, k=1),                  # kills `k <= 1` and `k < 2`
    lambda: MDD(8, 3, margin=0.5),           # kills `margin <= 1`
    lambda: DomainDiscriminator(8, hidden=1),  # kills `hidden <= 1` and `hidden < 2`
])
def test_edge_values_inside_the_documented_ranges_are_accepted(build):
    build()


@pytest.mark.parametrize("build, message", [
    (lambda: FixMatch(8, 3, threshold=1.5), r"^fixmatch: threshold τ must be in \(0, 1\], got 1\.5$"),
    (lambda: ADDA(8, 3, model=_model(), pretrain=0.0), r"^adda: pretrain .* must be in \(0, 1\), got 0\.0$"),
    (lambda: MCD(8, 3, k=1.5), r"^mcd: k .* must be an integer ≥ 1, got 1\.5$"),
    (lambda: MDD(8, 3, hidden=1.5), r"^mdd: hidden must be an integer ≥ 0 .*, got 1\.5$"),
    (lambda: DomainDiscriminator(8, hidden=1.5),
     r"^domain discriminator: hidden must be an integer ≥ 1 .*, got 1\.5$"),
    (lambda: JAN(8, 3, kernel="cosine"), r"^jan: unknown kernel 'cosine'; choose one of "),
])
def test_values_outside_the_ranges_get_one_line_errors(build, message):
    # kills: `or` → `and` in the integer checks (1.5 accepted, silently truncated to 1), pretrain
    # 0 accepted (no source pre-training at all), a threshold above 1 accepted (no target row
    # would ever pass it), the term's name dropped from the kernel error
    with pytest.raises(DalibError, match=message):
        build()


def test_mdd_hidden_builds_a_two_layer_auxiliary_head():
    # kills: the Linear → ReLU → Linear head replaced by the linear one, a layer dropped, and
    # the widths swapped
    head = MDD(8, 3, hidden=16).aux_head
    assert [type(m) for m in head] == [nn.Linear, nn.ReLU, nn.Linear]
    assert (head[0].in_features, head[0].out_features, head[2].in_features, head[2].out_features) == (8, 16, 16, 3)
    assert isinstance(MDD(8, 3).aux_head, nn.Linear)


@pytest.mark.parametrize("softmax_sigma2", [None, 0.5])
def test_jan_passes_its_kernel_settings_to_both_layers(softmax_sigma2):
    # kills: the multipliers or the bandwidth rule not passed on (the defaults used instead), and
    # the fixed softmax bandwidth ignored
    jan = JAN(8, 3, bandwidth="mean", multipliers=(1.0, 3.0), softmax_sigma2=softmax_sigma2)
    feature = (jan.feature_kernel.multipliers, jan.feature_kernel.bandwidth, jan.feature_kernel.sigma2)
    assert feature == ((1.0, 3.0), "mean", None)
    softmax = (jan.softmax_kernel.multipliers, jan.softmax_kernel.bandwidth, jan.softmax_kernel.sigma2)
    assert softmax == (((1.0, 3.0), "mean", None) if softmax_sigma2 is None else ((1.0,), "median", 0.5))


def test_adda_source_encoder_is_a_frozen_copy_and_adaptation_starts_off():
    # kills: the copy left trainable (the optimiser would move M_s in stage 2), the stage flag
    # stored as a float instead of a boolean, and `train()` defaulting to eval mode
    model = _model()
    adda = ADDA(8, 3, model=model)
    assert not any(p.requires_grad for p in adda.source_encoder.parameters())
    assert all(p.requires_grad for p in model.parameters())
    assert adda.adapting.dtype == torch.bool and not adda.adapting
    assert adda.train().discriminator.training and not adda.source_encoder.training
