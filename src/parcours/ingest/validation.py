"""What makes a row unacceptable, as one SQL CASE that names the first problem found.

The reasons are shown to users in the quarantine list, so each says what is wrong,
with the offending value and where it came from.
"""

from __future__ import annotations

from parcours.matcher import quote

#: Score ranges of survey answers (an event named ``survey_response``).
SURVEY_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def _survey_checks() -> str:
    metric = "json_extract_string(properties, '$.metric')"
    score_text = "json_extract_string(properties, '$.score')"
    score = f"TRY_CAST({score_text} AS DOUBLE)"
    checks = [
        f"WHEN event = 'survey_response' AND {metric} IS NULL "
        "THEN 'survey_response without properties.metric (nps, csat or ces)'",
        f"WHEN event = 'survey_response' AND {metric} NOT IN ({', '.join(quote(m) for m in SURVEY_RANGES)}) "
        f"THEN 'survey_response: properties.metric ' || {metric} || ' is not nps, csat or ces'",
        f"WHEN event = 'survey_response' AND {score} IS NULL "
        f"THEN 'survey_response: properties.score ' || coalesce({score_text}, 'missing') || ' is not a number'",
    ]
    for metric_name, (lo, hi) in SURVEY_RANGES.items():
        checks.append(
            f"WHEN event = 'survey_response' AND {metric} = {quote(metric_name)} "
            f"AND ({score} < {lo} OR {score} > {hi} OR {score} <> floor({score})) "
            f"THEN 'survey_response: {metric_name} score ' || {score_text} || ' is out of range {lo}-{hi}'"
        )
    return " ".join(checks)


def row_problems_sql(
    ts_raw: str,
    ts: str,
    ts_problem: str,
    event_column: str,
    props_column: str | None,
    types: tuple[str, ...],
) -> str:
    """A SQL expression: NULL for a valid row, else the first problem in plain words."""
    props_check = (
        f"WHEN NOT props_ok THEN 'column {props_column} is not a JSON object: ' || left(props_text, 80) "
        if props_column
        else ""
    )
    return f"""CASE
        WHEN invalid IS NOT NULL THEN invalid
        WHEN {ts_raw} IS NULL THEN 'missing timestamp'
        WHEN {ts} IS NULL THEN {ts_problem}
        WHEN user_id IS NULL AND anonymous_id IS NULL THEN 'missing user_id and anonymous_id (at least one is needed)'
        WHEN type NOT IN ({', '.join(quote(t) for t in types)})
            THEN 'type ' || type || ' is not one of {', '.join(types)}'
        WHEN event IS NULL THEN 'missing event name (column {event_column})'
        {props_check}
        WHEN NOT context_ok THEN 'context is not valid JSON'
        {_survey_checks()}
    END"""
