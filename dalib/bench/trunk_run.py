"""A bench run's cached trunk: the profile's ``trunk`` turns the task into what the run trains on.

| ``Profile.trunk`` | the run's domains                          | the classifier's backbone        |
|-------------------|--------------------------------------------|----------------------------------|
| ""                | unchanged (today's path)                   | built from the profile           |
| ``frozen``        | cached features, V views per image         | none to train (reads view 0)     |
| ``top:N``         | cached activations entering the last N blocks | the last N blocks + head      |
| ``full``          | centre views at ``image_size`` px          | the whole backbone               |

A ``minilm`` backbone (token-id datasets such as ``amazon-sentiment-tokens``) takes ``top:N``
only: the reviews become packed hidden states entering layer 6 − N, cached once, and the
classifier's backbone is the top N layers (`dalib.text.trunk`).

With ``frozen`` / ``top:N`` each training step draws one cached view per image (the ``views``
augmentation with the trainer's seeded generator) and evaluation reads the centre view; the
profile's own image augmentation does not apply to cached outputs. Shallow methods get the
centre-view features of the whole frozen backbone, whatever the trunk.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from torch import nn

from dalib.bench.profiles import Profile
from dalib.data.tasks import Task
from dalib.finetune.trunk_cache import centre_features, trunk_inputs, view_recipe
from dalib.models import build_backbone
from dalib.models.trunk import parse_trunk


def prepare_trunk(profile: Profile, task: Task, shallow: bool = False, device: str = "cpu",
                  say: Callable[[str], None] | None = None) -> tuple[Task, Profile, nn.Module | None]:
    """(task, profile, backbone) of a run whose profile may name a trunk (table above).

    Without a trunk, all three come back unchanged (backbone None: built as usual). Otherwise
    the backbone is built from the profile (seed the global RNG first for a random init), the
    images are re-read from the task's files, and the returned profile is the one the run
    trains with: augment ``views`` (one cached view per sample and step; "" with one view) and,
    under ``frozen``, backbone_lr_mult 1 (the backbone has no parameter left to scale).
    """
    cut = parse_trunk(profile.trunk)
    if cut is None:
        return task, profile, None
    if profile.backbone == "minilm":
        if shallow:  # shallow text methods read the reviews' texts, which the token domains keep
            return task, profile, None
        from dalib.text.trunk import text_trunk_domains

        (source, target), top = text_trunk_domains([task.source, task.target], cut, device=device,
                                                   **({"say": say} if say else {}))
        return Task(source, target), profile, top
    recipe = view_recipe(profile.backbone, profile.image_size, profile.views)
    backbone = build_backbone(profile.backbone, 3 * recipe.image_size ** 2, weights=profile.weights or None)
    kwargs = {"device": device, **({"say": say} if say else {})}
    if shallow:
        centre = [centre_features(d, backbone, recipe, **kwargs) for d in (task.source, task.target)]
        return Task(*centre), profile, None
    (source, target), trained = trunk_inputs([task.source, task.target], backbone, cut, recipe, **kwargs)
    if cut.cached:
        profile = replace(profile, augment="views" if recipe.views > 1 else "",
                          backbone_lr_mult=1.0 if cut.mode == "frozen" else profile.backbone_lr_mult)
    return Task(source, target), profile, trained
