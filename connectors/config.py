"""Declared department sources (``sources.yaml``): where each source is and which element each column carries.

Credentials never appear here. A SQL or HTTP source names a ``conn_id``; its URL comes from
the environment (``GOVDX_CONN_<ID>``) or an Airflow Connection (``AIRFLOW_CONN_<ID>``), see
``connectors/credentials.py``. File paths are relative to the sources directory
(``GOVDX_SOURCES_DIR``, default ``var/sources``) unless absolute.
"""

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from catalog_schema.types import DepartmentSlug, ElementCode, Library, ShortText

SourceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")]
ConnId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqlSpec(_Strict):
    """A table or query in any database SQLAlchemy reaches, streamed with a server-side cursor."""

    kind: Literal["sql"]
    conn_id: ConnId
    table: str | None = None
    query: str | None = None
    incremental_column: str | None = None
    chunk_rows: int = Field(default=50_000, ge=100, le=1_000_000)

    @model_validator(mode="after")
    def _table_or_query(self) -> "SqlSpec":
        if (self.table is None) == (self.query is None):
            raise ValueError("declare exactly one of table or query")
        return self


class FileSpec(_Strict):
    """A file drop: CSV, XLSX, JSON (array or lines) or Parquet, read in chunks."""

    kind: Literal["file"]
    path: str
    format: Literal["csv", "xlsx", "json", "parquet"] | None = None
    encoding: str | None = None
    delimiter: str = ","
    sheet: str | None = None
    chunk_rows: int = Field(default=50_000, ge=100, le=1_000_000)

    def resolve(self, sources_dir: Path) -> Path:
        """The file's absolute path."""
        path = Path(self.path)
        return path if path.is_absolute() else sources_dir / path


class HttpSpec(_Strict):
    """A paged JSON API: ``GET {base}{path}?page=N&size=M`` answering ``{records_field: [...], ...}``."""

    kind: Literal["http"]
    conn_id: ConnId
    path: str
    page_param: str = "page"
    size_param: str = "size"
    since_param: str | None = None
    incremental_field: str | None = None
    first_page: int = 1
    page_size: int = Field(default=1000, ge=1, le=10_000)
    records_field: str = "data"
    timeout_s: float = Field(default=10.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0)
    chunk_rows: int = Field(default=50_000, ge=100, le=1_000_000)


ConnectorSpec = Annotated[SqlSpec | FileSpec | HttpSpec, Field(discriminator="kind")]


class SourceSpec(_Strict):
    """One department source feeding one base library."""

    name: SourceName
    title: ShortText
    department: DepartmentSlug
    library: Library
    connector: ConnectorSpec
    # Source column -> data element it carries. Columns not listed are ignored.
    columns: dict[str, ElementCode]
    # Elements whose values, joined with ":", form the subject key in the library.
    key: list[ElementCode] = Field(min_length=1)
    # Elements that must not be empty (the key elements always are required).
    required: list[ElementCode] = []
    # Elements with one value for every row of this source (e.g. the certificate type).
    constants: dict[ElementCode, str] = {}
    # First characters of credit codes this department registers (GB 32100 §4.1: 1 机构编制,
    # 5 民政, 9 工商/市场监管); codes registered elsewhere are quarantined.
    registering_authority: list[str] | None = None
    # The element holding the registration date; pilot-era codes (before GB 32100-2015 took
    # effect) that fail the checksum go to review instead of rejection.
    registration_date: ElementCode | None = None
    # Sources that load before this one in its library's DAG (the authoritative source of the
    # key first, so verification sources compare against fresh values).
    after: list[SourceName] = []

    @model_validator(mode="after")
    def _elements_are_mapped(self) -> "SourceSpec":
        carried = set(self.columns.values()) | set(self.constants)
        for code in [*self.key, *self.required]:
            if code not in carried:
                raise ValueError(f"{code} is neither mapped from a column nor a constant")
        if self.registration_date is not None and self.registration_date not in carried:
            raise ValueError(f"registration_date {self.registration_date} is not mapped")
        if len(set(self.columns.values())) != len(self.columns):
            raise ValueError("two columns carry the same element")
        return self

    @property
    def elements(self) -> list[str]:
        """Every element this source carries, mapped or constant."""
        return [*dict.fromkeys([*self.columns.values(), *self.constants])]


class SourcesFile(_Strict):
    version: Literal[1]
    sources: list[SourceSpec]

    @model_validator(mode="after")
    def _unique_names(self) -> "SourcesFile":
        names = [s.name for s in self.sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"source names repeat: {', '.join(duplicates)}")
        for source in self.sources:
            unknown = [a for a in source.after if a not in names]
            if unknown:
                raise ValueError(f"{source.name}: after names undeclared sources {', '.join(unknown)}")
        return self

    def get(self, name: str) -> SourceSpec:
        """The source called ``name``; KeyError when undeclared."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


def load_sources(path: Path) -> SourcesFile:
    """Parse and validate a sources file."""
    return SourcesFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
