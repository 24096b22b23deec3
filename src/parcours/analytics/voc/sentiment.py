"""Comment sentiment on a -1..+1 scale, offline, in English and French.

Both languages use a lexicon that ships inside a registry package, so nothing is
downloaded at run time:

- English: VADER (``vaderSentiment``), its ``compound`` score.
- French: the Pattern French adjective lexicon shipped in ``textblob-fr``, its polarity
  (negation such as "ne ... pas" and intensifiers such as "très" are handled there).

The answer's ``language`` property chooses the lexicon (``fr``, ``fr-FR``, ``en``, ...).
Without one, the comment's language is guessed from common function words (French
when it has more French than English ones). Accuracy on the labelled sample in
``tests/data/voc_sentiment.csv`` is reported in docs/voc.md and checked by the tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

#: Scores within this distance of 0 count as neutral.
NEUTRAL_BAND = 0.05

_FR_WORDS = ("le la les un une des du de et est pas ne je tu il elle nous vous ils très trop mon ma mes "
                "au aux avec pour sur dans mais c'est j'ai n'est qui que rien toujours été")
_EN_WORDS = ("the a an and is are was were not no i you he she we they very too my your with for on in "
                "but it's i'm this that nothing always been of to")
_FR, _EN = frozenset(_FR_WORDS.split()), frozenset(_EN_WORDS.split())
_WORD = re.compile(r"[\w']+", re.UNICODE)


def guess_language(text: str) -> str:
    """``fr`` or ``en``: whichever language's common words the text has more of (``en`` on a tie)."""
    words = _WORD.findall(text.lower())
    fr = sum(w in _FR for w in words) + len(re.findall(r"[éèêàùçôî]", text.lower()))
    en = sum(w in _EN for w in words)
    return "fr" if fr > en else "en"


@lru_cache(maxsize=1)
def _english():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _french():
    from textblob_fr.sentiments import PatternAnalyzer

    return PatternAnalyzer()


def sentiment(text: str | None, language: str | None = None) -> float | None:
    """The sentiment of one comment, -1 (negative) to +1 (positive); None for an empty comment."""
    if text is None or not str(text).strip():
        return None
    text = str(text)
    lang = (language or "").strip().lower()[:2] or guess_language(text)
    if lang == "fr":
        return float(_french().analyze(text)[0])
    # English is also the fallback for other languages: VADER scores emoji and punctuation
    return float(_english().polarity_scores(text)["compound"])


def sentiments(texts: Iterable[str | None], languages: Iterable[str | None]) -> np.ndarray:
    """``sentiment`` of many comments (NaN where empty); identical comments are scored once."""
    cache: dict[tuple, float | None] = {}
    out = []
    for text, lang in zip(texts, languages, strict=True):
        key = (text, lang)
        if key not in cache:
            cache[key] = sentiment(text, lang)
        value = cache[key]
        out.append(np.nan if value is None else value)
    return np.asarray(out, dtype=float)


def label(score: float | None) -> str | None:
    """``positive``, ``negative`` or ``neutral`` (within ``NEUTRAL_BAND`` of 0)."""
    if score is None or np.isnan(score):
        return None
    if score > NEUTRAL_BAND:
        return "positive"
    return "negative" if score < -NEUTRAL_BAND else "neutral"
