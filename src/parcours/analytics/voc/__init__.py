"""Voice of the customer: survey answers tied to the journey, scores, emotion, follow-ups, webhooks.

A survey answer is an event named ``survey_response`` (properties ``metric``, ``score``,
and optionally ``touchpoint``, ``comment``, ``language``). ``answers_query`` ties each one
to a touchpoint, and every analysis here reads answers through it.
"""

from parcours.analytics.voc.answers import answers_query, survey_answers
from parcours.analytics.voc.behaviour import detractor_touchpoints, satisfaction_behaviour
from parcours.analytics.voc.compare import compare_touchpoints
from parcours.analytics.voc.emotion import emotion_curve
from parcours.analytics.voc.followups import (
    create_followups,
    followup,
    followup_history,
    list_followups,
    update_followup,
)
from parcours.analytics.voc.scores import voc_scores, voc_trend
from parcours.analytics.voc.sentiment import sentiment
from parcours.analytics.voc.webhooks import deliver_webhooks, enqueue_webhooks, verify_signature, webhook_log

__all__ = [
    "answers_query", "compare_touchpoints", "create_followups", "deliver_webhooks", "detractor_touchpoints",
    "emotion_curve", "enqueue_webhooks", "followup", "followup_history", "list_followups",
    "satisfaction_behaviour", "sentiment", "survey_answers", "update_followup", "verify_signature",
    "voc_scores", "voc_trend", "webhook_log",
]
