"""Model-based transfer: fine-tuning strategies and regularisers toward the pretrained weights."""

from dalib.finetune.regularizers import BSS, L2SP
from dalib.finetune.strategies import STRATEGIES, FineTuneStrategy, GradualUnfreezing, extract_features, freeze

__all__ = ["BSS", "L2SP", "STRATEGIES", "FineTuneStrategy", "GradualUnfreezing", "extract_features", "freeze"]
