"""What makes a row unacceptable, as one SQL CASE that names the first problem found.

The reasons are shown to users in the quarantine list, so each says what is wrong,
with the offending value and where it came from.
"""

from __future__ import annotations

from sqlglot import exp

from parcours.query import Query, sql

#: Score ranges of survey answers (an event named ``survey_response``).
SURVEY_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}

_METRIC = "json_extract_string(properties, '$.metric')"
_SCORE_TEXT = "json_extract_string(properties, '$.score')"


def _survey_checks() -> list[tuple[Query, Query]]:
    """(condition, reason) for the survey answers: a metric of ``SURVEY_RANGES``, a score in its range."""
    metric, score_text = sql(_METRIC), sql(_SCORE_TEXT)
    score = sql("TRY_CAST({text} AS DOUBLE)", text=score_text)
    checks = [
        (sql("event = 'survey_response' AND {metric} IS NULL", metric=metric),
         sql("'survey_response without properties.metric (nps, csat or ces)'")),
        (sql("event = 'survey_response' AND {metric} NOT IN ({metrics})", metric=metric, metrics=list(SURVEY_RANGES)),
         sql("'survey_response: properties.metric ' || {metric} || ' is not nps, csat or ces'", metric=metric)),
        (sql("event = 'survey_response' AND {score} IS NULL", score=score),
         sql("'survey_response: properties.score ' || coalesce({text}, 'missing') || ' is not a number'",
             text=score_text)),
    ]
    for name, (lo, hi) in SURVEY_RANGES.items():
        checks.append((
            sql("event = 'survey_response' AND {metric} = {name} "
                "AND ({score} < {lo} OR {score} > {hi} OR {score} <> floor({score}))",
                metric=metric, name=name, score=score, lo=lo, hi=hi),
            sql("{head} || {text} || {tail}", head="survey_response: " + name + " score ", text=score_text,
                tail=" is out of range " + str(lo) + "-" + str(hi)),
        ))
    return checks


def row_problems(
    ts_raw: Query,
    ts: Query,
    ts_problem: Query,
    event_column: str,
    props_column: str | None,
    types: tuple[str, ...],
) -> Query:
    """An expression: NULL for a valid row, else the first problem in plain words.

    It reads the staging columns ``invalid``, ``user_id``, ``anonymous_id``, ``type``,
    ``event``, ``props_ok``, ``props_text`` and ``context_ok``.
    """
    checks = [
        (sql("invalid IS NOT NULL"), sql("invalid")),
        (sql("{raw} IS NULL", raw=ts_raw), sql("'missing timestamp'")),
        (sql("{ts} IS NULL", ts=ts), ts_problem),
        (sql("user_id IS NULL AND anonymous_id IS NULL"),
         sql("'missing user_id and anonymous_id (at least one is needed)'")),
        (sql("type NOT IN ({types})", types=list(types)),
         sql("'type ' || type || {tail}", tail=" is not one of " + ", ".join(types))),
        (sql("event IS NULL"), sql("{reason}", reason="missing event name (column " + event_column + ")")),
    ]
    if props_column:
        checks.append((sql("NOT props_ok"), sql("{head} || left(props_text, 80)",
                                                head="column " + props_column + " is not a JSON object: ")))
    checks.append((sql("NOT context_ok"), sql("'context is not valid JSON'")))
    checks += _survey_checks()
    return exp.Case(ifs=[exp.If(this=condition, true=reason) for condition, reason in checks])
