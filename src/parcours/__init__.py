"""parcours: customer-journey analytics.

The Python API, for notebooks and scripts::

    import parcours
    store = parcours.open("shop.duckdb")
    parcours.import_file(store, "events.csv", mapping=parcours.Mapping.parse(["user_id=visitor"]))
    parcours.customer(store, "ann@example.com").timeline      # a pandas DataFrame
    parcours.stage_overview(store)                           # customers per stage

Every analysis is a function that takes a store (and a ``Filter``) and returns a DataFrame.
"""

from parcours.analytics.abandonment import abandoned_customers, abandonment, abandonment_destinations
from parcours.analytics.attribution import attribution, conversion_paths, read_paths
from parcours.analytics.filters import Filter, events_sql
from parcours.analytics.friction import friction
from parcours.analytics.funnels import (
    conversion_trends,
    dropped_customers,
    funnel,
    funnel_customers,
    time_to_convert,
)
from parcours.analytics.leads import score_leads, train_lead_model
from parcours.analytics.overview import stage_overview, store_stats, top_touchpoints, unmapped_events
from parcours.analytics.paths import dfg, flows, loops, top_paths, transition_matrix
from parcours.analytics.personas import find_personas, rfm_scores, save_personas
from parcours.analytics.retention import churn_risk, repeat_purchase_rate, retention, retention_curve
from parcours.analytics.segments import (
    by_segment,
    create_segment,
    delete_segment,
    edit_segment,
    list_segments,
    segment_members,
)
from parcours.analytics.stages import stage_progression, stage_returns
from parcours.config import JourneyConfig, load_config, parse_config
from parcours.demo import load_demo
from parcours.errors import ParcoursError
from parcours.identity import merges, stitch, unmerge
from parcours.ingest import ImportSummary, Mapping, import_file
from parcours.journey.profiles import CustomerProfile, customer_profile
from parcours.matcher import Condition, EventMatcher
from parcours.store import Store, open_store
from parcours.voc import (
    compare_touchpoints,
    create_followups,
    deliver_webhooks,
    detractor_touchpoints,
    emotion_curve,
    enqueue_webhooks,
    list_followups,
    satisfaction_behaviour,
    survey_answers,
    update_followup,
    voc_scores,
    voc_trend,
)

open = open_store  # noqa: A001 - parcours.open(path) reads naturally
customer = customer_profile

__version__ = "0.1.0"

__all__ = [
    "Condition", "CustomerProfile", "EventMatcher", "Filter", "ImportSummary", "JourneyConfig", "Mapping",
    "ParcoursError", "Store", "customer", "customer_profile", "events_sql", "import_file", "load_config", "load_demo",
    "merges", "open", "open_store", "parse_config", "stage_overview", "stitch", "store_stats",
    "top_touchpoints", "unmapped_events", "unmerge",
    "attribution", "conversion_paths", "read_paths",
    "abandoned_customers", "abandonment", "abandonment_destinations", "conversion_trends", "dropped_customers",
    "funnel", "funnel_customers", "time_to_convert",
    "compare_touchpoints", "create_followups", "deliver_webhooks", "detractor_touchpoints", "emotion_curve",
    "enqueue_webhooks", "list_followups", "satisfaction_behaviour", "survey_answers", "update_followup",
    "voc_scores", "voc_trend",
    "by_segment", "create_segment", "delete_segment", "edit_segment", "find_personas", "list_segments",
    "rfm_scores", "save_personas", "score_leads", "segment_members", "train_lead_model",
    "churn_risk", "dfg", "flows", "friction", "loops", "repeat_purchase_rate", "retention", "retention_curve",
    "stage_progression", "stage_returns", "top_paths", "transition_matrix",
]
