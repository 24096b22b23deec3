"""Stages: where customers are, how far they got, how long each stage takes, per-touchpoint outcomes."""
