"""What a dashboard request asks for: the filter in its query string, and the reader's language.

The pages themselves (``parcours.views``) know no HTTP: the routes read these off the request
and hand the pages plain values, as the report hands them its command-line options.
"""

from __future__ import annotations

from datetime import date

from fastapi import Request
from pydantic import ValidationError

from parcours.errors import ParcoursError
from parcours.views.filters import PageFilter
from parcours.views.i18n import LANGUAGES


def _day(request: Request, name: str) -> date | None:
    text = (request.query_params.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ParcoursError(f"{name}={text!r}: give a date as YYYY-MM-DD") from None


def page_filter(request: Request) -> PageFilter:
    """The filter in the request's query string; a bad value raises ``ParcoursError`` naming it."""
    start, end = _day(request, "from"), _day(request, "to")
    if start and end and end < start:
        raise ParcoursError(f"to={end} is before from={start}")
    segment = (request.query_params.get("segment") or "").strip() or None
    where = tuple(w.strip() for w in request.query_params.getlist("where") if w.strip())
    subject = (request.query_params.get("subject") or "").strip() or None
    page = PageFilter(start, end, segment, where, subject)
    try:
        page.to_filter()  # a bad condition (``where=``) is the request's error, named, before any page work
    except ValidationError as e:
        raise ParcoursError(f"subject={subject!r}: {e.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    return page


def language(request: Request) -> str:
    """The page's language: ``?lang``, the ``lang`` cookie, then the browser's preference."""
    chosen = request.query_params.get("lang") or request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"
