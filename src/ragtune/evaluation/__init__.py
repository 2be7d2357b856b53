"""Metrics, exact search, significance tests and evaluation reports."""
