"""Customers behind the numbers: the sets behind every count, persons and groups."""
