"""``parcours serve``: the collector (and later the dashboard) as one ASGI server."""

from __future__ import annotations

import typer

from parcours.cli.state import state
from parcours.errors import ParcoursError


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on."),
    ip_mode: str = typer.Option("truncate", "--ip", help="Client IP addresses: truncate, hash or drop."),
    max_body: int = typer.Option(1 << 20, "--max-body", min=1024, help="Largest request body, in bytes."),
    max_batch: int = typer.Option(2500, "--max-batch", min=1, help="Most messages in one batch."),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    trusted_proxies: str = typer.Option(
        "", "--trusted-proxies",
        help="Comma-separated proxy addresses (or *) whose X-Forwarded-For/-Proto is believed; "
             "default none: the client address is the connection's, whoever sends the header."),
) -> None:
    """Serve the collector API until stopped; GET /health answers 200 when ready."""
    import uvicorn

    from parcours.server import Limits, create_app
    from parcours.server.privacy import IP_MODES

    if ip_mode not in IP_MODES:
        raise ParcoursError(f"--ip {ip_mode!r}: use one of {', '.join(IP_MODES)}")
    app = create_app(state(ctx).db, ip_mode=ip_mode, limits=Limits(max_body_bytes=max_body, max_batch=max_batch))
    proxies = [p.strip() for p in trusted_proxies.split(",") if p.strip()]
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise (or $FORWARDED_ALLOW_IPS):
    # proxy headers are read only when a proxy is named here
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                proxy_headers=bool(proxies), forwarded_allow_ips=proxies or [])


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
