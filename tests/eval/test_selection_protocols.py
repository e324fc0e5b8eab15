"""Direction of every selection protocol: the epoch each one picks where the right pick is known."""

import numpy as np
import pytest
import torch

from dalib.eval.metrics import Predictions
from dalib.eval.selection import select_epoch, unsupervised_scores

# Four epochs; each protocol's best epoch is 1 or 2 and its worst is another one, so a flipped
# direction (higher vs lower is better) picks a different epoch.
RECORDS = [
    {"epoch": e + 1, "source_val_acc": sv, "target_entropy": ent, "target_acc": acc,
     "scores": {"iwv": iwv, "dev": dev, "snd": snd}}
    for e, (sv, ent, acc, iwv, dev, snd) in enumerate([
        (0.5, 0.9, 0.3, 0.8, 0.7, 1.0),
        (0.9, 1.2, 0.4, 0.3, 0.9, 2.5),
        (0.6, 0.1, 0.8, 0.6, 0.2, 1.5),
        (0.7, 0.6, 0.5, 0.9, 0.5, 0.5),
    ])
]


@pytest.mark.parametrize(
    "protocol, epoch",
    [("iwv", 2), ("dev", 3), ("snd", 2), ("entropy", 3), ("source-val", 2), ("oracle", 3), ("last", 4)],
)
def test_protocol_picks_the_known_epoch(protocol, epoch):
    """iwv, dev: lowest risk; snd: highest density; entropy: lowest; source-val, oracle: highest
    accuracy; last: final. Kills flipping the direction of any protocol."""
    assert select_epoch(RECORDS, protocol)["epoch"] == epoch


def _predictions(rng: np.random.Generator, features: np.ndarray, labels: np.ndarray, noise: float,
                 flip: float) -> Predictions:
    """Logits 6·onehot(label') + noise·N(0, 1), where a fraction ``flip`` of label' is wrong."""
    wrong = rng.random(labels.size) < flip
    shown = np.where(wrong, (labels + 1) % 4, labels)
    logits = 6.0 * np.eye(4)[shown] + noise * rng.normal(size=(labels.size, 4))
    return Predictions(torch.tensor(features), torch.tensor(logits), torch.tensor(labels))


def test_scores_from_outputs_pick_the_good_epoch():
    """Epoch 2 predicts source-val and target right and confidently (tight class clusters);
    epochs 1 and 3 are noisy and partly wrong. Source-val and target features come from one
    distribution (w ~ 1). Kills a sign flip in iwv_risk, dev_risk, snd_score or the entropy,
    and in the protocols' directions."""
    rng = np.random.default_rng(0)
    f_v, f_t = rng.normal(size=(60, 8)), rng.normal(size=(120, 8))
    y_v, y_t = np.arange(60) % 4, np.arange(120) % 4
    records = []
    for e, (noise, flip) in enumerate([(3.0, 0.4), (0.0, 0.0), (2.0, 0.3)]):
        val, tgt = _predictions(rng, f_v, y_v, noise, flip), _predictions(rng, f_t, y_t, noise, flip)
        records.append({"epoch": e + 1, "source_val_acc": val.accuracy, "target_acc": tgt.accuracy,
                        "target_entropy": tgt.mean_entropy, "scores": unsupervised_scores(val, tgt)})
    for protocol in ("iwv", "dev", "snd", "entropy"):
        assert select_epoch(records, protocol)["epoch"] == 2, protocol


# Kills: a different cap on the target samples that enter the weights and SND (default 2000, the
# first ones).
def test_unsupervised_scores_use_the_first_2000_target_samples(monkeypatch):
    import dalib.eval.selection as selection

    seen = {}

    def fake_weights(pairs):
        seen["f_t"] = pairs[0][1]
        return [np.ones(f_v.shape[0]) for f_v, _ in pairs]

    monkeypatch.setattr(selection, "validation_weights_batch", fake_weights)
    rng = np.random.default_rng(0)
    y_v, y_t = np.arange(20) % 4, np.arange(2050) % 4
    val = _predictions(rng, rng.normal(size=(20, 3)), y_v, 1.0, 0.0)
    tgt = _predictions(rng, rng.normal(size=(2050, 3)), y_t, 1.0, 0.0)
    unsupervised_scores(val, tgt)
    np.testing.assert_array_equal(seen["f_t"], tgt.features[:2000].double().numpy())
    unsupervised_scores(val, tgt, max_target=50)
    assert seen["f_t"].shape == (50, 3)
