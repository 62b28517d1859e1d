"""Department sources: SQL databases, files and HTTP APIs read as Arrow batches."""

from pathlib import Path

from connectors.base import (
    ROW_COLUMN,
    Connector,
    ReadStats,
    RejectedRecord,
    SchemaDrift,
    SourceError,
    SourceUnreachable,
    Window,
)
from connectors.config import SourceSpec
from connectors.file import FileConnector
from connectors.http import HttpConnector
from connectors.sql import SqlConnector

__all__ = [
    "ROW_COLUMN",
    "Connector",
    "FileConnector",
    "HttpConnector",
    "ReadStats",
    "RejectedRecord",
    "SchemaDrift",
    "SourceError",
    "SourceUnreachable",
    "SqlConnector",
    "Window",
    "open_connector",
]


def open_connector(spec: SourceSpec, *, sources_dir: Path) -> Connector:
    """The connector for ``spec``'s kind; ``sources_dir`` anchors relative file paths."""
    match spec.connector.kind:
        case "sql":
            return SqlConnector(spec)
        case "file":
            return FileConnector(spec, sources_dir)
        case "http":
            return HttpConnector(spec)
    raise ValueError(f"unknown connector kind {spec.connector.kind}")
