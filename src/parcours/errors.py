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
