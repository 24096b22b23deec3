"""Voice of the customer: survey answers tied to the journey, scores, emotion, follow-ups, webhooks.

A survey answer is an event named ``survey_response`` (properties ``metric``, ``score``,
and optionally ``touchpoint``, ``comment``, ``language``). ``answers_sql`` ties each one
to a touchpoint, and every analysis here reads answers through it.
"""

from parcours.voc.answers import answers_sql, survey_answers
from parcours.voc.emotion import emotion_curve
from parcours.voc.scores import voc_scores, voc_trend
from parcours.voc.sentiment import sentiment

__all__ = ["answers_sql", "emotion_curve", "sentiment", "survey_answers", "voc_scores", "voc_trend"]
