"""Keeps the French catalogue in step with ``LABELS``, the older way of adding a dashboard string.

``LABELS`` entries (key -> English, French) still work, their French serving as a fallback;
this copies them into ``locale/fr/LC_MESSAGES/messages.po`` so that the .po stays the one
place translators edit. ``python -m parcours.views.catalogue_sync`` adds what is missing and fills
empty translations from ``LABELS``; with ``--check`` it only lists them and exits 1 if any.

``extract_labels`` is the Babel extractor babel.cfg names for i18n.py, so that
``pybabel extract`` (and ``pybabel update``) keep the ``LABELS`` messages too.
"""

from __future__ import annotations

import ast
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from babel.messages.extract import extract_python
from babel.messages.pofile import read_po, write_po

from parcours.views.i18n import LABELS, po_path


def extract_labels(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict) -> Iterator[tuple]:
    """Babel extractor: the file's ``_()``/``N_()`` calls, then each ``LABELS`` entry's English."""
    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    for node in ast.walk(ast.parse(source)):
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        if any(isinstance(x, ast.Name) and x.id == "LABELS" for x in targets) and isinstance(node.value, ast.Dict):
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                yield value.lineno, None, ast.literal_eval(value)[0], [f"LABELS key: {ast.literal_eval(key)}"]


def sync(path: Path, write: bool = True) -> list[str]:
    """The ``LABELS`` messages the .po at ``path`` lacks or leaves untranslated; added there if ``write``."""
    with path.open("rb") as f:
        po = read_po(f, locale="fr")
    changed = []
    for key, (english, french) in LABELS.items():
        message = po.get(english)
        if message is None:
            po.add(english, french, auto_comments=[f"LABELS key: {key}"])
        elif not message.string:
            message.string = french
        else:
            continue
        changed.append(f"{key}: {english!r} -> {french!r}")
    if write and changed:
        with path.open("wb") as f:
            write_po(f, po, width=110, sort_output=False)
    return changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    changed = sync(po_path("fr"), write=not check)
    for line in changed:
        print(("missing from the .po: " if check else "added to the .po: ") + line)
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
