"""A new alignment loss in one file: mean-feature matching (linear-kernel MMD).

    D(F_s, F_t) = ‖mean_i f_i^s − mean_j f_j^t‖²

Benchmark it with no change to dalib:

    dalib bench --plugin examples/my_loss.py --methods my_loss --dataset rotated-digits --out runs/my_loss
"""

from torch import Tensor

from dalib.alignment import Discrepancy, register


@register("my_loss", weight=1.0)
class MeanMatching(Discrepancy):
    """Squared distance between the source and target feature means."""

    def forward(self, f_s: Tensor, f_t: Tensor, **_: object) -> Tensor:
        return (f_s.mean(0) - f_t.mean(0)).pow(2).sum()
