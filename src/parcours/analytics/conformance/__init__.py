"""Designed vs observed journeys: the journey file as a Petri net, alignments, opportunities."""

from parcours.analytics.conformance.conformance import (
    conformance_customers,
    conformance_overview,
    customer_sequences,
    fitness_members,
    happy_path,
    save_fitness_segment,
)
from parcours.analytics.conformance.export import bpmn_text, export_journey, pnml_text
from parcours.analytics.conformance.net import journey_net
from parcours.analytics.conformance.opportunities import opportunities

__all__ = [
    "bpmn_text", "conformance_customers", "conformance_overview", "customer_sequences", "export_journey",
    "fitness_members", "happy_path", "journey_net", "opportunities", "pnml_text", "save_fitness_segment",
]
