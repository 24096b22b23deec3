"""parcours: customer-journey analytics.

The Python API, for notebooks and scripts::

    import parcours
    store = parcours.open("shop.duckdb")
    parcours.import_file(store, "events.csv", mapping=parcours.Mapping.parse(["user_id=visitor"]))
    parcours.customer(store, "ann@example.com").timeline      # a pandas DataFrame
    parcours.stage_overview(store)                           # customers per stage

Every analysis is a function that takes a store (and a ``Filter``) and returns a DataFrame.

Names are loaded on first use (PEP 562), so ``import parcours`` and the CLI start fast
instead of importing scikit-learn, Numba and the sentiment lexicons up front.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> (module, attribute); ``parcours.open`` reads naturally for ``open_store``
_LAZY: dict[str, tuple[str, str]] = {
    "Condition": ("parcours.matcher", "Condition"),
    "CustomerProfile": ("parcours.journey.profiles", "CustomerProfile"),
    "EventMatcher": ("parcours.matcher", "EventMatcher"),
    "Filter": ("parcours.query.filter", "Filter"),
    "ImportFailed": ("parcours.ingest", "ImportFailed"),
    "ImportResult": ("parcours.ingest", "ImportResult"),
    "ImportSummary": ("parcours.ingest", "ImportSummary"),
    "JourneyConfig": ("parcours.config", "JourneyConfig"),
    "Mapping": ("parcours.ingest", "Mapping"),
    "ParcoursError": ("parcours.errors", "ParcoursError"),
    "Store": ("parcours.store", "Store"),
    "abandoned_customers": ("parcours.analytics.friction.abandonment", "abandoned_customers"),
    "abandonment": ("parcours.analytics.friction.abandonment", "abandonment"),
    "abandonment_destinations": ("parcours.analytics.friction.abandonment", "abandonment_destinations"),
    "attribute_paths": ("parcours.analytics.attribution", "attribute_paths"),
    "attribution": ("parcours.analytics.attribution", "attribution"),
    "by_segment": ("parcours.analytics.segments.segments", "by_segment"),
    "churn_risk": ("parcours.analytics.retention.retention", "churn_risk"),
    "compare_touchpoints": ("parcours.analytics.voc", "compare_touchpoints"),
    "conformance": ("parcours.analytics.conformance", "conformance_customers"),
    "conformance_overview": ("parcours.analytics.conformance", "conformance_overview"),
    "conversion_paths": ("parcours.analytics.attribution", "conversion_paths"),
    "conversion_trends": ("parcours.analytics.funnels.funnel", "conversion_trends"),
    "create_followups": ("parcours.analytics.voc", "create_followups"),
    "create_segment": ("parcours.analytics.segments.segments", "create_segment"),
    "customer": ("parcours.journey.profiles", "customer_profile"),
    "customer_profile": ("parcours.journey.profiles", "customer_profile"),
    "delete_segment": ("parcours.analytics.segments.segments", "delete_segment"),
    "deliver_webhooks": ("parcours.analytics.voc", "deliver_webhooks"),
    "detractor_touchpoints": ("parcours.analytics.voc", "detractor_touchpoints"),
    "dfg": ("parcours.analytics.paths.paths", "dfg"),
    "dropped_customers": ("parcours.analytics.funnels.funnel", "dropped_customers"),
    "edit_segment": ("parcours.analytics.segments.segments", "edit_segment"),
    "emotion_curve": ("parcours.analytics.voc", "emotion_curve"),
    "enqueue_webhooks": ("parcours.analytics.voc", "enqueue_webhooks"),
    "events_sql": ("parcours.analytics.filters", "events_sql"),
    "find_personas": ("parcours.analytics.segments.personas", "find_personas"),
    "flows": ("parcours.analytics.paths.paths", "flows"),
    "friction": ("parcours.analytics.friction.friction", "friction"),
    "funnel": ("parcours.analytics.funnels.funnel", "funnel"),
    "funnel_customers": ("parcours.analytics.funnels.funnel", "funnel_customers"),
    "export_journey": ("parcours.analytics.conformance", "export_journey"),
    "import_file": ("parcours.ingest", "import_file"),
    "import_entities": ("parcours.ingest.entities", "import_entities"),
    "parse_where": ("parcours.query.filter", "parse_where"),
    "persons": ("parcours.analytics.customers.persons", "persons"),
    "groups": ("parcours.analytics.customers.persons", "groups"),
    "list_followups": ("parcours.analytics.voc", "list_followups"),
    "list_segments": ("parcours.analytics.segments.segments", "list_segments"),
    "load_config": ("parcours.config", "load_config"),
    "load_demo": ("parcours.demo", "load_demo"),
    "loops": ("parcours.analytics.paths.paths", "loops"),
    "merges": ("parcours.identity", "merges"),
    "open": ("parcours.server.recovery", "open_store"),
    "opportunities": ("parcours.analytics.conformance", "opportunities"),
    "open_store": ("parcours.server.recovery", "open_store"),
    "parse_config": ("parcours.config", "parse_config"),
    "read_paths": ("parcours.analytics.attribution", "read_paths"),
    "repeat_purchase_rate": ("parcours.analytics.retention.retention", "repeat_purchase_rate"),
    "retention": ("parcours.analytics.retention.retention", "retention"),
    "retention_curve": ("parcours.analytics.retention.retention", "retention_curve"),
    "rfm_scores": ("parcours.analytics.segments.personas", "rfm_scores"),
    "satisfaction_behaviour": ("parcours.analytics.voc", "satisfaction_behaviour"),
    "save_personas": ("parcours.analytics.segments.personas", "save_personas"),
    "score_leads": ("parcours.analytics.segments.leads", "score_leads"),
    "segment_members": ("parcours.analytics.segments.segments", "segment_members"),
    "stage_overview": ("parcours.analytics.stages.overview", "stage_overview"),
    "stage_progression": ("parcours.analytics.stages.stages", "stage_progression"),
    "stage_returns": ("parcours.analytics.stages.stages", "stage_returns"),
    "stitch": ("parcours.identity", "stitch"),
    "store_stats": ("parcours.analytics.stages.overview", "store_stats"),
    "survey_answers": ("parcours.analytics.voc", "survey_answers"),
    "time_to_convert": ("parcours.analytics.funnels.funnel", "time_to_convert"),
    "top_paths": ("parcours.analytics.paths.paths", "top_paths"),
    "top_touchpoints": ("parcours.analytics.stages.overview", "top_touchpoints"),
    "train_lead_model": ("parcours.analytics.segments.leads", "train_lead_model"),
    "transition_matrix": ("parcours.analytics.paths.paths", "transition_matrix"),
    "unmapped_events": ("parcours.analytics.stages.overview", "unmapped_events"),
    "unmerge": ("parcours.identity", "unmerge"),
    "update_followup": ("parcours.analytics.voc", "update_followup"),
    "voc_scores": ("parcours.analytics.voc", "voc_scores"),
    "voc_trend": ("parcours.analytics.voc", "voc_trend"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'parcours' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])

__version__ = "0.1.0"

__all__ = [
    "Condition", "CustomerProfile", "EventMatcher", "Filter", "ImportFailed", "ImportResult", "ImportSummary", "JourneyConfig", "Mapping",
    "ParcoursError", "Store", "customer", "customer_profile", "events_sql", "import_file", "load_config", "load_demo",
    "import_entities", "parse_where", "persons", "groups",
    "merges", "open", "open_store", "parse_config", "stage_overview", "stitch", "store_stats",
    "top_touchpoints", "unmapped_events", "unmerge",
    "attribute_paths", "attribution", "conversion_paths", "read_paths",
    "abandoned_customers", "abandonment", "abandonment_destinations", "conversion_trends", "dropped_customers",
    "funnel", "funnel_customers", "time_to_convert",
    "compare_touchpoints", "create_followups", "deliver_webhooks", "detractor_touchpoints", "emotion_curve",
    "enqueue_webhooks", "list_followups", "satisfaction_behaviour", "survey_answers", "update_followup",
    "voc_scores", "voc_trend",
    "by_segment", "create_segment", "delete_segment", "edit_segment", "find_personas", "list_segments",
    "rfm_scores", "save_personas", "score_leads", "segment_members", "train_lead_model",
    "churn_risk", "dfg", "flows", "friction", "loops", "repeat_purchase_rate", "retention", "retention_curve",
    "stage_progression", "stage_returns", "top_paths", "transition_matrix",
    "conformance", "conformance_overview", "export_journey", "opportunities",
]
