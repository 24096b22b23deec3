"""Events -> touchpoints -> stages, per stitched customer."""

from parcours.journey.relation import journey_sql, touchpoint_case_sql

__all__ = ["journey_sql", "touchpoint_case_sql"]
