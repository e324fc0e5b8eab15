"""Backbones and heads."""

from dalib.models.backbones import build_backbone
from dalib.models.efficientnet import imagenet_classifier, input_normalisation, input_resolution
from dalib.models.heads import Classifier
from dalib.models.weight_files import weights_file

__all__ = ["Classifier", "build_backbone", "imagenet_classifier", "input_normalisation", "input_resolution",
           "weights_file"]
