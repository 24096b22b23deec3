"""Paths: the step sequences customers really take, directly-follows graphs, flows, top paths."""
