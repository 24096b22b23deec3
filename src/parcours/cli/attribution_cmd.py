"""``parcours attribution``: which channels, campaigns or touchpoints bring the conversions.

Scripts rely on this interface (keep it stable): ``--paths FILE [--sep ">"] --model NAME
[--order N] [--states RULE] --format json`` (or the global ``--db`` instead of ``--paths``) prints one object per
channel and model with ``channel``, ``model``, ``conversions``, ``value`` (and ``share``,
``value_share``, ``removal_effect``).
"""

from __future__ import annotations

from pathlib import Path

import typer

from parcours.analytics.attribution import (
    MODELS,
    STATE_RULES,
    STORE_HALF_LIFE,
    attribute_paths,
    markov,
    paths_of,
    read_paths,
    side_by_side,
)
from parcours.analytics.attribution.paths import LEVELS
from parcours.cli.filter_options import FILTER
from parcours.cli.output import Format, FormatOption, emit
from parcours.cli.state import state
from parcours.errors import ParcoursError
from parcours.query.filter import Filter


def attribution_command(
    ctx: typer.Context,
    paths: Path = typer.Option(None, "--paths", help="Aggregated path CSV (path, total_conversions, "
                               "total_conversion_value, total_null) instead of the store's journeys."),
    sep: str = typer.Option(">", "--sep", help="Separator between channels in a path."),
    delimiter: str = typer.Option(None, "--delimiter", help="Field delimiter of the path CSV (default: detected)."),
    model: list[str] = typer.Option(None, "--model", "-m", help=f"Model (repeatable; default all): {', '.join(MODELS)}."),
    order: int = typer.Option(1, "--order", help="Markov chain order, 1 to 3."),
    states: str = typer.Option(STATE_RULES[0], "--states", help="How Markov states of order 2-3 are built: "
                               "channelattribution (windows of --order consecutive touches, as ChannelAttribution "
                               "does) or prefix (the last --order channels after repeats collapse; shorter near "
                               "the start). Order 1 is the same under both."),
    half_life: str = typer.Option(None, "--half-life", help="Time-decay half-life. On the store's journeys a "
                                  "duration (7d, 12h; bare number = seconds; default 7d), a touch's age being its "
                                  "time before the conversion. On a --paths file, which has no times, a number "
                                  "of touches (default 7), age counted in touches back from the conversion."),
    first: float = typer.Option(0.4, "--first", help="Position-based share of the first touch."),
    last: float = typer.Option(0.4, "--last", help="Position-based share of the last touch."),
    level: str = typer.Option("channel", "--level", help=f"What a path is made of: {', '.join(LEVELS)}."),
    lookback: str = typer.Option("30d", "--lookback", help="Touches count this long before a conversion (30d, 12h; a bare number is seconds)."),
    conversion: str = typer.Option(None, "--conversion", help="What converts: an event name, touchpoint:NAME or "
                                   "stage:NAME (default: the journey's purchase event)."),
    touches: str = typer.Option(None, "--touches", help="Which events are touches: an event name, touchpoint:NAME "
                                "or stage:NAME (default: every event with a channel/campaign/touchpoint)."),
    channels: str = typer.Option(None, "--channels", help="Known channels, comma-separated (a,b,c), or 'journey' "
                                 "for the journey map's channels (store, --level channel; its touchpoints with "
                                 "--level touchpoint): a path with any other is an error naming its row."),
    transitions: bool = typer.Option(False, "--transitions", help="Print the Markov transition matrix instead."),
    filter: Filter = FILTER,
    fmt: Format = FormatOption,
) -> None:
    """Attributed conversions and value per channel, model by model (Markov and Shapley exact)."""
    if paths is not None:
        if filter != Filter():
            raise ParcoursError("--segment, --from, --to, --where and --subject apply to the store's journeys, "
                                "not to a --paths file")
        table = paths_of(read_paths(paths, sep=sep, delimiter=delimiter), channels=channels)
        touch_half_life = half_life
    else:
        if delimiter is not None:
            raise ParcoursError("--delimiter applies to a --paths file only")
        decay = not transitions and (not model or "time_decay" in model)
        with state(ctx).store(read_only=True) as store:
            table = paths_of(store, level=level, conversion=conversion, lookback=lookback, touches=touches, filter=filter,
                             half_life=(half_life or STORE_HALF_LIFE) if decay else None, channels=channels)
        touch_half_life = None  # the store paths carry their time-decay credit
    if transitions:
        emit(markov(table, order, states).transitions, fmt, title=f"Markov transitions (order {order}, {states} states)")
        return
    result = attribute_paths(table, model or list(MODELS), order=order, states=states, half_life=touch_half_life, first=first, last=last)
    if fmt == Format.table and result["model"].nunique() > 1:
        emit(side_by_side(result, "conversions"), fmt, title="attributed conversions")
        emit(side_by_side(result, "value"), fmt, title="attributed value")
        return
    emit(result, fmt, title="attribution")


def register(app: typer.Typer) -> None:
    app.command("attribution")(attribution_command)
