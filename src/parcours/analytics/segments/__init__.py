"""Segments, personas and leads: grouping customers (rules, lists, clusters) and scoring prospects."""
