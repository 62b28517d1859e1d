"""Department sources: SQL databases, files and HTTP APIs read as Arrow batches.

The connector modules are imported where they are used, not here: ``connectors.config`` is read
when a DAG file is parsed and must not pull in Arrow, pandas or a spreadsheet reader.
"""

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.base import Connector
    from connectors.config import SourceSpec

__all__ = ["open_connector"]


def open_connector(spec: "SourceSpec", *, sources_dir: Path) -> "Connector":
    """The connector for ``spec``'s kind; ``sources_dir`` anchors relative file paths."""
    match spec.connector.kind:
        case "sql":
            from connectors.sql import SqlConnector

            return SqlConnector(spec)
        case "file":
            from connectors.file import FileConnector

            return FileConnector(spec, sources_dir)
        case "http":
            from connectors.http import HttpConnector

            return HttpConnector(spec)
    raise ValueError(f"unknown connector kind {spec.connector.kind}")
