"""``parcours keys create|list|revoke``: API keys, stored hashed (run while the server is stopped;
while it runs, use its admin API)."""

from __future__ import annotations

import typer

from parcours.cli.output import Format, FormatOption, console, emit
from parcours.cli.state import state

keys_app = typer.Typer(help="API keys: write keys per source, read keys, admin keys.", no_args_is_help=True)


@keys_app.command("create")
def create(
    ctx: typer.Context,
    role: str = typer.Option(..., "--role", help="write, read or admin."),
    name: str = typer.Option(..., "--name", help="What the key is for (e.g. web, shop, dashboard)."),
    source: str = typer.Option(None, "--source", help="Write keys: source recorded on events (default: the name)."),
) -> None:
    """Create a key. The key is printed alone on the last line; it is not shown again."""
    from parcours.server.keys import create_key  # the server package loads FastAPI: only when needed

    with state(ctx).store() as store:
        key = create_key(store, role, name, source)
    console.print(f"created a {role} key {name!r}; keep it now, it is stored only as a hash:", highlight=False)
    print(key)


@keys_app.command("list")
def list_(ctx: typer.Context, fmt: Format = FormatOption) -> None:
    """Every key: id, role, name, source, when created and revoked (never the key itself)."""
    from parcours.server.keys import list_keys

    with state(ctx).store() as store:
        emit(list_keys(store), fmt, title="API keys")


@keys_app.command("revoke")
def revoke(ctx: typer.Context, key_id: str = typer.Argument(..., help="The key id (from `keys list`) or the key.")) -> None:
    """Revoke a key: it is refused from then on."""
    from parcours.server.keys import revoke_key

    with state(ctx).store() as store:
        revoked = revoke_key(store, key_id)
    console.print(f"revoked {revoked}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
