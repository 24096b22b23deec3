"""One error type for everything a user can get wrong.

The CLI turns a ``ParcoursError`` into a single line on stderr and exit code 2, so
every message must say *what* is wrong and *where* (file, row, key, option).
"""


class ParcoursError(Exception):
    """A problem with the user's input or setup, reported without a traceback."""


class ConfigError(ParcoursError):
    """The journey file is invalid."""


class ImportError_(ParcoursError):
    """A file cannot be imported at all (missing, unreadable, wrong format, bad mapping)."""


class Refused(Exception):
    """A request without the right to do what it asks (HTTP 401 or 403).

    Raised by the collector's and the dashboard's access checks; the server turns it into a
    JSON answer (``server.auth.refused_response``). It lives here so the dashboard, which sits
    below the server, can raise it too.
    """

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message
