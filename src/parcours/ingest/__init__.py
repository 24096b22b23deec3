"""Getting events in: file readers, column mapping, validation and quarantine."""

from parcours.ingest.importer import ImportFailed, ImportResult, ImportSummary, import_file
from parcours.ingest.mapping import FIELDS, Mapping

__all__ = ["FIELDS", "ImportFailed", "ImportResult", "ImportSummary", "Mapping", "import_file"]
