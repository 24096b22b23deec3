"""``parcours serve``: the collector (and later the dashboard) as one ASGI server."""

from __future__ import annotations

import secrets
import socket

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
    apply_interval: float = typer.Option(0.25, "--apply-interval", min=0.0,
                                         help="Seconds between moving acknowledged events into the store."),
    max_backlog: int = typer.Option(100_000, "--max-backlog", min=1,
                                    help="Most events acknowledged but not yet stored; beyond, 503 + Retry-After."),
    max_backlog_mb: int = typer.Option(256, "--max-backlog-mb", min=1,
                                       help="Most megabytes of such events (the same bound, in log bytes)."),
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
    from parcours.store.sharing import remove_claim, write_claim

    if ip_mode not in IP_MODES:
        raise ParcoursError(f"--ip {ip_mode!r}: use one of {', '.join(IP_MODES)}")
    db = state(ctx).db
    if port == 0:  # the claim names the port other processes reach: pick it now
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    proxies = [p.strip() for p in trusted_proxies.split(",") if p.strip()]
    # claimed before the store is opened: a second server stops here, naming the first
    claim = write_claim(db, f"http://{_local(host)}:{port}", secrets.token_urlsafe(32))
    try:
        app = create_app(db, ip_mode=ip_mode, limits=Limits(max_body_bytes=max_body, max_batch=max_batch),
                         apply_interval=apply_interval, claim=claim,
                         max_backlog_events=max_backlog, max_backlog_bytes=max_backlog_mb << 20)
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise (or $FORWARDED_ALLOW_IPS):
        # proxy headers are read only when a proxy is named here
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                    proxy_headers=bool(proxies), forwarded_allow_ips=proxies or [])
    finally:
        remove_claim(db)


def _local(host: str) -> str:
    """The address other processes on this machine reach the server at."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
