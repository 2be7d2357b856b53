"""Run folders, metrics files, model cards and terminal tables."""
