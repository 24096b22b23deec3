"""Sentences the analyses write in English, put in the reader's language by patterns.

A pattern is an English message with ``{named}`` holes, worded exactly as the analysis writes
it (persona descriptions: ``analytics/segments/personas.py``; opportunity evidence:
``analytics/conformance/opportunities.py``; path markers: ``analytics/paths/paths.py``; lead
reasons: ``analytics/segments/leads.py``); its
translation in the catalogue has the same holes. A sentence is translated only when every
part of it matches a pattern; otherwise it stays English and says so (``Said.lang``), so a
page never shows a half-translated sentence, and the template marks it ``lang="en"``.
Numbers in holes are written the reader's way (French: 1 234,5 %).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from parcours.views.i18n import N_, current_language, gettext, t

#: a persona card's description (``parcours.analytics.segments.personas``)
PERSONA = (N_("{size} customers ({share}): {traits}. Mostly via {channels}; top touchpoints {touchpoints}. "
              "Conversion {conversion}, satisfaction {satisfaction}."),
           N_("{size} customers ({share}): {traits}. Mostly via {channels}; top touchpoints {touchpoints}. "
              "Conversion {conversion}, no survey answers."))
TRAITS = (N_("further in the journey (typically {stage})"), N_("less far in the journey (typically {stage})"),
          N_("more {feature} ({mine} vs {average} on average)"), N_("fewer {feature} ({mine} vs {average} on average)"),
          N_("less {feature} ({mine} vs {average} on average)"))
#: a line of an opportunity's evidence (``parcours.analytics.conformance.opportunities``)
EVIDENCE = (N_("{lost} conversions lost ({value} in value): {why}"),
            N_("{share} of its {customers} customers did not follow the design here"),
            N_("surveys: {scores}"),
            N_("friction {score}: {signal} at {rate} vs {baseline} elsewhere"))
WHY = (N_("customers who deviated here converted {deviated} vs {followed} for those who followed"),
       N_("{customers} customers stopped at {stage} without buying; {rate} of those who went on converted"))
SCORES = (N_("{score} {value} vs {overall} overall"),)
#: a lead's reason (``parcours.analytics.segments.leads``): a feature's value and what it adds to the log-odds
REASON = (N_("{what} ({change} log-odds)"), N_("a typical prospect: no feature sets them apart"))
WHAT = (N_("{name} x{count}"), N_("recency {days} days"), N_("tenure {days} days"), N_("no {feature}"),
        N_("{feature} {value}"))
#: rows of the top-paths table that are counts, not paths (``parcours.analytics.paths.paths``)
PATH_ROWS = (N_("(other)"), N_("(did not reach {end})"), N_("(none)"))
#: the words inside those holes that are the analyses', not data
WORDS = (N_("sessions"), N_("touchpoints used"), N_("furthest stage"), N_("days since last seen"), N_("purchases"),
         N_("value"), N_("satisfaction"), N_("days to first purchase"), N_("no channel"), N_("none"), N_("no stage"),
         N_("detractor share"), N_("the end step"))


class Said(str):
    """Text with the language it is in."""

    lang: str

    def __new__(cls, text: str, lang: str) -> Said:
        said = super().__new__(cls, text)
        said.lang = lang
        return said


class NoPattern(Exception):
    """Part of a sentence matches no pattern: the sentence stays English."""


@cache
def _regex(pattern: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", pattern)
    return re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts)))


def _number(text: str) -> str:
    """A number as the analysis wrote it (1,234.5 or 12%), in the reader's way; other text as it is."""
    if current_language() == "en" or not re.fullmatch(r"[-+]?[\d,]*\.?\d+%?", text):
        return text
    french = text.replace(",", "\u202f").replace(".", ",")
    return french.replace("%", "\u202f%")


def _fill(text: str, patterns: tuple[str, ...], holes: dict[str, Callable[[str], str]]) -> str:
    """``text`` through the first pattern it matches whole; each hole through its function (else ``_number``)."""
    for pattern in patterns:
        match = _regex(pattern).fullmatch(text)
        if match:
            values = {k: holes.get(k, _number)(v) for k, v in match.groupdict().items()}
            return gettext(pattern).format(**values)
    raise NoPattern(text)


def _word(text: str) -> str:
    """One of ``WORDS`` translated; anything else (a stage, a list of channel names) is data."""
    return gettext(text) if text in WORDS else _number(text)


def _list(patterns: tuple[str, ...], sep: str, holes: dict) -> Callable[[str], str]:
    return lambda text: sep.join(_fill(part, patterns, holes) for part in text.split(sep))


_WORDS = {"stage": _word, "feature": _word, "channels": _word, "touchpoints": _word, "score": _word, "end": _word}
#: the patterns a text of the analyses is tried against, with what fills their holes
SENTENCES: tuple[tuple[tuple[str, ...], dict[str, Callable[[str], str]]], ...] = (
    (PERSONA, {**_WORDS, "traits": _list(TRAITS, "; ", _WORDS)}),
    (EVIDENCE, {"why": lambda text: _fill(text, WHY, _WORDS), "scores": _list(SCORES, ", ", _WORDS),
                "signal": lambda s: t(f"signal_{s}"), "score": _number}),
    (PATH_ROWS, _WORDS),
    (REASON, {"what": lambda text: _fill(text, WHAT, {"name": str, "feature": str})}),
)
#: what joins the parts of a list an analysis gives (a lead's reasons) on a page
JOIN = " · "


def from_analysis(text: str | None) -> Said | None:
    """A sentence an analysis wrote, in the current language (English when it matches no pattern)."""
    if text is None or current_language() == "en":
        return None if text is None else Said(text, "en")
    if JOIN in text:  # a list: translated whole, or left English whole
        parts = [from_analysis(part) for part in text.split(JOIN)]
        if all(p.lang != "en" for p in parts):
            return Said(JOIN.join(parts), current_language())
        return Said(text, "en")
    for patterns, holes in SENTENCES:
        try:
            return Said(_fill(text, patterns, holes), current_language())
        except NoPattern:
            continue
    return Said(text, "en")
