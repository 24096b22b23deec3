"""The server: a Segment-compatible collector with a durable write-ahead log, API keys,
privacy controls and GDPR tools, as one FastAPI app (``create_app``)."""

from parcours.server.app import create_app
from parcours.server.payload import Limits

__all__ = ["Limits", "create_app"]
