"""Retention: who comes back, cohorts, repeat purchases, churn risk."""
