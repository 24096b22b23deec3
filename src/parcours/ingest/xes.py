"""XES (IEEE 1849) event logs, the process-mining standard, streamed with iterparse.

Each event becomes one row: its own attributes by key (``concept:name``,
``time:timestamp``, ``lifecycle:transition``, ...) plus its trace's attributes
prefixed with ``case:`` (so the case id is ``case:concept:name``), as pm4py names them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import ParseError, iterparse

import pyarrow as pa

from parcours.errors import ImportError_

_ATTRS = {"string", "date", "int", "float", "boolean", "id"}
BATCH_EVENTS = 100_000


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _events(f, path: Path) -> Iterator[dict[str, str]]:
    trace_attrs: dict[str, str] = {}
    stack: list[str] = []
    try:
        for action, elem in iterparse(f, events=("start", "end")):
            tag = _local(elem.tag)
            if action == "start":
                stack.append(tag)
                if tag == "trace":
                    trace_attrs = {}
                continue
            stack.pop()
            parent = stack[-1] if stack else None
            if tag == "event":
                row = {f"case:{k}": v for k, v in trace_attrs.items()}
                for child in elem:
                    if _local(child.tag) in _ATTRS and "key" in child.attrib:
                        row[child.attrib["key"]] = child.attrib.get("value")
                yield row
                elem.clear()
            elif tag in _ATTRS and parent == "trace" and "key" in elem.attrib:
                trace_attrs[elem.attrib["key"]] = elem.attrib.get("value")
            elif tag == "trace":
                elem.clear()
    except ParseError as e:
        raise ImportError_(f"{path}: not a valid XES (XML) file: {e}") from None


def read_xes(path: Path, f) -> tuple[list[str], Iterator[pa.RecordBatch]]:
    events = _events(f, path)
    head = list(itertools.islice(events, 1000))
    if not head:
        f.close()
        raise ImportError_(f"{path}: the XES log holds no events")
    names = list(dict.fromkeys(k for row in head for k in row))

    def batches() -> Iterator[pa.RecordBatch]:
        row_no = 1
        try:
            for chunk in _chunks(itertools.chain(head, events)):
                keys = list(dict.fromkeys(k for r in chunk for k in r))
                data = {k: pa.array([r.get(k) for r in chunk], pa.string()) for k in keys}
                data["__row"] = pa.array(range(row_no, row_no + len(chunk)), pa.int64())
                row_no += len(chunk)
                yield pa.RecordBatch.from_pydict(data)
        finally:
            f.close()

    return names, batches()


def _chunks(rows: Iterator[dict]) -> Iterator[list[dict]]:
    while chunk := list(itertools.islice(rows, BATCH_EVENTS)):
        yield chunk
