"""Backbones and heads."""

from dalib.models.backbones import build_backbone
from dalib.models.heads import Classifier

__all__ = ["Classifier", "build_backbone"]
