"""dalib: a PyTorch research toolkit for domain adaptation."""

__version__ = "0.1.0"
