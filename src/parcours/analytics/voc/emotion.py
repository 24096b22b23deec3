"""The emotion curve: how customers feel at each stage (or touchpoint), from -1 to +1.

Each answer's score is put on -1..+1 by its scale's midpoint and half-range:
NPS ``(score - 5) / 5``, CSAT ``(score - 3) / 2``, CES ``(score - 4) / 3``. When the answer
has a comment, its emotion is the mean of that and the comment's sentiment
(``parcours.analytics.voc.sentiment``); without one, the score alone. A group's emotion is the mean
over its answers. Every stage (or touchpoint) of the journey gets a row, in journey order,
so the curve can be drawn under the journey map; groups without answers have NULL emotion.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from parcours.analytics.voc.answers import answers_query
from parcours.analytics.voc.sentiment import sentiments
from parcours.errors import ParcoursError
from parcours.query import sql
from parcours.query.filter import Filter

#: (midpoint, half-range) of each scale: ``(score - mid) / half`` is on -1..+1.
SCALES = {"nps": (5.0, 5.0), "csat": (3.0, 2.0), "ces": (4.0, 3.0)}


def answer_emotions(answers: pd.DataFrame) -> pd.DataFrame:
    """Add ``score_emotion``, ``comment_sentiment`` and ``emotion`` columns to survey answers."""
    out = answers.copy()
    mid = out["metric"].map({k: v[0] for k, v in SCALES.items()})
    half = out["metric"].map({k: v[1] for k, v in SCALES.items()})
    out["score_emotion"] = (out["score"] - mid) / half
    out["comment_sentiment"] = sentiments(out["comment"], out["language"])
    out["emotion"] = np.where(
        out["comment_sentiment"].isna(), out["score_emotion"], (out["score_emotion"] + out["comment_sentiment"]) / 2
    )
    return out


def emotion_curve(store, level: str = "stage", *, filter: Filter | None = None) -> pd.DataFrame:
    """One emotion value per stage (``level="stage"``) or per touchpoint (``level="touchpoint"``).

    Columns: ``stage`` (and ``touchpoint``), ``answers``, ``comments``, ``score_emotion`` (mean
    of the scores on -1..+1), ``comment_sentiment`` (mean sentiment of the comments),
    ``emotion`` (the curve's value). Answers tied to no touchpoint, or to one the journey
    does not know, come last.
    """
    if level not in ("stage", "touchpoint"):
        raise ParcoursError(f"emotion curve: level {level!r} is not stage or touchpoint")
    config = store.config
    answers = answer_emotions(store.engine.df(sql(
        "SELECT metric, score, comment, language, stage, touchpoint FROM {answers} a", answers=answers_query(store, filter)
    )))
    if level == "stage":
        keys = ["stage"]
        frame = pd.DataFrame({"stage": [s.name for s in config.stages]})
    else:
        keys = ["stage", "touchpoint"]
        frame = pd.DataFrame(
            [(s.name, t.name) for s in config.stages for t in config.touchpoints if t.stage == s.name],
            columns=keys,
        )
    grouped = answers.groupby(keys, dropna=False).agg(
        answers=("score", "size"), comments=("comment_sentiment", "count"),
        score_emotion=("score_emotion", "mean"), comment_sentiment=("comment_sentiment", "mean"),
        emotion=("emotion", "mean"),
    ).reset_index()
    known = grouped.merge(frame, on=keys, how="left", indicator=True)["_merge"] == "both"
    out = pd.concat([frame.merge(grouped, on=keys, how="left"), grouped[~known.to_numpy()]], ignore_index=True)
    out[["answers", "comments"]] = out[["answers", "comments"]].fillna(0).astype("int64")
    figures = ["score_emotion", "comment_sentiment", "emotion"]
    out[figures] = out[figures].astype(object).where(out[figures].notna(), None)
    return out
