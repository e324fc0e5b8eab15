"""Domains, loaders for features and image folders, the dataset catalog, splits and batches."""

from dalib.data.domain import Domain

__all__ = ["Domain"]
