"""The options every analysis command shares: ``--segment``, ``--from``, ``--to``, ``--where``,
``--subject``, added in one place.

A command that filters takes one parameter, ``filter: Filter = FILTER``, and never sees the
options: ``offer_filter`` (run on every command at registration, as ``offer_columns`` adds
``--columns``) replaces that parameter with the options and hands the command the ``Filter``
they describe. A new filter dimension is one option here and reaches every command::

    def stages_cmd(ctx: typer.Context, ..., filter: Filter = FILTER, fmt: Format = FormatOption) -> None:
        emit(stage_progression(store, filter), fmt)

A command whose analysis reads fewer dimensions takes a narrower ``FilterOptions``
(``conformance``: a segment and dates only). Every command with dates also takes the hidden
``--since``/``--until``, the names scripts used before the shared options, meaning the same.

The ``Filter`` names its parameters in its errors (```start` ... is not before `end```);
``param_errors.FILTER_FLAGS`` says the flag of each, so the user reads ``--from ... is not before --to``.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, get_type_hints

import typer

from parcours.cli.param_errors import FILTER_FLAGS, name_flags
from parcours.errors import ParcoursError

if TYPE_CHECKING:
    from collections.abc import Callable

    from parcours.query.filter import Filter

SegmentOption = typer.Option(
    None, "--segment", help="Only customers in this saved segment (see `parcours segment list`)."
)
FromOption = typer.Option(
    None, "--from", help="Only events at or after this UTC time, included (YYYY-MM-DD[THH:MM:SS])."
)
#: one meaning on every command: an exclusive instant (a date is its midnight, so --to 2024-02-01 ends with January)
ToOption = typer.Option(
    None, "--to", help="Only events before this UTC time, excluded (YYYY-MM-DD[THH:MM:SS]; "
    "--to 2024-02-01 ends with January 31)."
)
#: hidden aliases of --from/--to, kept for scripts written before the shared options
SinceOption = typer.Option(None, "--since", hidden=True, help="Alias of --from.")
UntilOption = typer.Option(None, "--until", hidden=True, help="Alias of --to.")
WhereOption = typer.Option(
    [], "--where", help="Only events where FIELD OP VALUE holds, e.g. \"person.plan = 'pro'\", "
    "\"group.company.industry = 'retail'\", \"props.plan = 'pro'\"; on whole customers: \"fitness < 0.8\", "
    "\"deviation = 'skipped stage'\" (conformance). Repeatable (all must hold)."
)
SubjectOption = typer.Option(
    None, "--subject", help="Whose journeys: customers (default), group.TYPE (accounts, e.g. group.company) "
    "or person.NAME (customers sharing a person property count as one)."
)


@dataclass(frozen=True)
class FilterOptions:
    """Which of the shared options a command takes: ``--segment`` always, the others unless turned off."""

    dates: bool = True  #: --from/--to (and the hidden --since/--until)
    where: bool = True
    subject: bool = True

    def parameters(self) -> list[tuple[str, Any, Any]]:
        """(parameter name, Typer option, type) of each option, named so as not to meet a command's own."""
        chosen = [("filter_segment", SegmentOption, str | None)]
        if self.dates:
            chosen += [("filter_from", FromOption, datetime | None), ("filter_to", ToOption, datetime | None),
                       ("filter_since", SinceOption, datetime | None), ("filter_until", UntilOption, datetime | None)]
        if self.where:
            chosen.append(("filter_where", WhereOption, list[str]))
        if self.subject:
            chosen.append(("filter_subject", SubjectOption, str | None))
        return chosen


#: every shared option (the default of a command's ``filter`` parameter)
FILTER = FilterOptions()


def make_filter(segment: str | None = None, start: datetime | None = None, end: datetime | None = None,
                where: list[str] | None = None, subject: str | None = None) -> Filter:
    """The analysis filter the shared options describe (an empty filter when none is given).

    A mistake in them is an error naming the flag (``FILTER_FLAGS``), raised before the command's work.
    """
    # here, not at import: the analytics layer loads pydantic and DuckDB, which `parcours CMD --help` need not
    from pydantic import ValidationError

    from parcours.query.filter import Filter, parse_where

    try:
        try:
            return Filter(segment=segment, start=start, end=end, where=[parse_where(w) for w in where or []],
                          subject=subject)
        except ValidationError as e:
            raise ParcoursError(f"`subject` {subject!r}: "
                                f"{e.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    except ParcoursError as e:
        raise ParcoursError(name_flags(str(e), FILTER_FLAGS)) from None


def _dates(values: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """``--from``/``--to``, or their old names ``--since``/``--until``; both names of one is a mistake."""
    since, until = values.pop("filter_since", None), values.pop("filter_until", None)
    start, end = values.pop("filter_from", None), values.pop("filter_to", None)
    for old, new, a, b in (("--since", "--from", since, start), ("--until", "--to", until, end)):
        if a is not None and b is not None:
            raise ParcoursError(f"{old} and {new} mean the same; give one of them")
    return since or start, until or end


def _type_hints(callback: Callable) -> dict[str, Any]:
    """The command's parameter types, but for ``filter``: ``Filter`` is imported for type checking only
    (the analytics layer it comes from costs ``--help`` a quarter of a second)."""
    annotations = {k: v for k, v in callback.__annotations__.items() if k != "filter"}
    return get_type_hints(SimpleNamespace(__annotations__=annotations), globalns=callback.__globals__)


def _with_filter(callback: Callable, options: FilterOptions) -> Callable:
    """``callback`` with its ``filter`` parameter replaced by ``options``' options (see the module's docstring)."""
    hints = _type_hints(callback)
    added = options.parameters()

    @functools.wraps(callback)
    def command(**kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name, _, _ in added}
        start, end = _dates(values)
        kwargs["filter"] = make_filter(segment=values["filter_segment"], start=start, end=end,
                                       where=values.get("filter_where"), subject=values.get("filter_subject"))
        return callback(**kwargs)

    params = []
    for p in inspect.signature(callback).parameters.values():
        if p.name == "filter":
            params += [inspect.Parameter(name, p.kind, default=option, annotation=kind) for name, option, kind in added]
        else:
            params.append(p.replace(annotation=hints.get(p.name, p.annotation)))
    command.__signature__ = inspect.Signature(params, return_annotation=hints.get("return", None))
    command.__annotations__ = {**hints, **{name: kind for name, _, kind in added}}
    return command


def offer_filter(app: typer.Typer) -> None:
    """Give the shared options to every command of ``app`` (and its sub-apps) that takes ``filter: Filter = FILTER``."""
    for info in app.registered_commands:
        if info.callback is None:
            continue
        chosen = inspect.signature(info.callback).parameters.get("filter")
        if chosen is not None and isinstance(chosen.default, FilterOptions):
            info.callback = _with_filter(info.callback, chosen.default)
    for group in app.registered_groups:
        offer_filter(group.typer_instance)
