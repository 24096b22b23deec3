"""The ``Allow`` header: every method a path takes, across all the routes that match it.

Starlette answers a wrong method with the methods of the *first* route whose path matched
(``/v1/admin/keys`` said ``GET`` though it takes ``POST`` too), and ``OPTIONS`` with a 405.
This ASGI middleware answers ``OPTIONS`` (other than a CORS preflight, which the CORS
middleware answers) with 204 and the full ``Allow``, and corrects ``Allow`` on every 405.
It asks the app's own routes, so a route added later is covered.
"""

from __future__ import annotations

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed(app, scope: Scope) -> list[str]:
    """The methods some route of ``app`` takes at this request's path (OPTIONS included when any)."""
    found = []
    for method in METHODS:
        probe = {**scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in app.router.routes):
            found.append(method)
    return [*found, "OPTIONS"] if found else []


class AllowHeader:
    def __init__(self, app: ASGIApp, root) -> None:
        self.app = app
        self.root = root  # the FastAPI app, whose routes are asked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if scope["method"] == "OPTIONS" and b"access-control-request-method" not in headers:
            methods = allowed(self.root, scope)
            if methods:
                await send({"type": "http.response.start", "status": 204,
                            "headers": [(b"allow", ", ".join(methods).encode())]})
                await send({"type": "http.response.body", "body": b""})
                return

        async def send_fixed(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = ", ".join(allowed(self.root, scope)).encode()
                message = {**message, "headers": [(k, v) for k, v in message.get("headers", [])
                                                  if k.lower() != b"allow"] + [(b"allow", methods)]}
            await send(message)

        await self.app(scope, receive, send_fixed)
