"""Metrics, model selection and transfer measures."""
