"""Sentences the analyses write in English, put in the reader's language by patterns.

A pattern is an English message with ``{named}`` holes, worded exactly as the analysis writes
it; its translation in the catalogue has the same holes. A sentence is translated only when
every part of it matches a pattern; otherwise it stays English and says so (``Said.lang``), so
a page never shows a half-translated sentence, and the template marks it ``lang="en"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from parcours.web.i18n import N_, current_language, gettext

#: a persona card's description (``parcours.analytics.personas``)
PERSONA = (N_("{size} customers ({share}): {traits}. Mostly via {channels}; top touchpoints {touchpoints}. "
              "Conversion {conversion}, satisfaction {satisfaction}."),
           N_("{size} customers ({share}): {traits}. Mostly via {channels}; top touchpoints {touchpoints}. "
              "Conversion {conversion}, no survey answers."))
TRAITS = (N_("further in the journey (typically {stage})"), N_("less far in the journey (typically {stage})"),
          N_("more {feature} ({mine} vs {average} on average)"), N_("fewer {feature} ({mine} vs {average} on average)"),
          N_("less {feature} ({mine} vs {average} on average)"))
#: the words inside those holes that are the analysis's, not data
WORDS = (N_("sessions"), N_("touchpoints used"), N_("furthest stage"), N_("days since last seen"), N_("purchases"),
         N_("value"), N_("satisfaction"), N_("days to first purchase"), N_("no channel"), N_("none"), N_("no stage"))


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


def _fill(text: str, patterns: tuple[str, ...], holes: dict[str, Callable[[str], str]]) -> str:
    """``text`` through the first pattern it matches whole, each hole through its function."""
    for pattern in patterns:
        match = _regex(pattern).fullmatch(text)
        if match:
            values = {k: holes.get(k, str)(v) for k, v in match.groupdict().items()}
            return gettext(pattern).format(**values)
    raise NoPattern(text)


def _word(text: str) -> str:
    """One of ``WORDS`` translated; anything else (a stage, a list of channel names) is data."""
    return gettext(text) if text in WORDS else text


def persona_description(text: str) -> Said:
    """A persona's description in the current language (English when it matches no pattern)."""
    if current_language() == "en":
        return Said(text, "en")
    trait = {"stage": _word, "feature": _word}
    holes = {"traits": lambda t: "; ".join(_fill(part, TRAITS, trait) for part in t.split("; ")),
             "channels": _word, "touchpoints": _word,
             "size": lambda n: n.replace(",", "\u202f")}  # "1,070" reads 1.07 in French
    try:
        return Said(_fill(text, PERSONA, holes), current_language())
    except NoPattern:
        return Said(text, "en")
