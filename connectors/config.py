"""Declared department sources (``sources.yaml``): where each source is and which element each column carries.

Credentials never appear here. A SQL or HTTP source names a ``conn_id``; its URL comes from
the environment (``GOVDX_CONN_<ID>``) or an Airflow Connection (``AIRFLOW_CONN_<ID>``), see
``connectors/credentials.py``. File paths are relative to the sources directory
(``GOVDX_SOURCES_DIR``, default ``var/sources``) unless absolute.
"""

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from catalog_schema.types import DepartmentSlug, ElementCode, Library, ShortText

SourceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")]
# 信息资源代码 (1272号): classification code, "/", six-digit sequence code.
ResourceCode = Annotated[str, Field(pattern=r"^[123][0-9]{5}[0-9]{0,12}/[0-9]{6}$")]
_ELEMENT: TypeAdapter[str] = TypeAdapter(ElementCode)
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
    """One department source feeding one base library, or the dataset (库表交换) of one resource."""

    name: SourceName
    title: ShortText
    department: DepartmentSlug
    # Exactly one target: a base library, or a resource (by code) whose delivery is a dataset.
    library: Library | None = None
    resource: ResourceCode | None = None
    connector: ConnectorSpec
    # Source column -> the data element it carries (a library source) or the resource's item
    # name (a dataset source). Columns not listed are ignored.
    columns: dict[str, ShortText]
    # A library source: elements whose values, joined with ":", form the subject key in the
    # library. A dataset source declares none: its keys are the resource binding's.
    key: list[ElementCode] = []
    # Elements (items, for a dataset) that must not be empty (key parts always are required).
    required: list[ShortText] = []
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
    def _one_target(self) -> "SourceSpec":
        if (self.library is None) == (self.resource is None):
            raise ValueError("declare exactly one of library (a base library) or resource (a dataset)")
        if self.library is None:
            if self.key or self.constants or self.registering_authority or self.registration_date:
                raise ValueError(
                    "a dataset source takes its keys from the resource's delivery binding: "
                    "declare no key, constants, registering_authority or registration_date"
                )
            return self
        if not self.key:
            raise ValueError("a library source declares its key")
        try:
            for value in [*self.columns.values(), *self.required]:
                _ELEMENT.validate_python(value)
        except ValidationError as exc:
            raise ValueError(
                f"a library source maps columns to element codes: {exc.errors()[0]['input']!r}"
            ) from None
        return self

    @model_validator(mode="after")
    def _elements_are_mapped(self) -> "SourceSpec":
        carried = set(self.columns.values()) | set(self.constants)
        for code in [*self.key, *self.required]:
            if code not in carried:
                raise ValueError(f"{code} is neither mapped from a column nor a constant")
        if self.registration_date is not None and self.registration_date not in carried:
            raise ValueError(f"registration_date {self.registration_date} is not mapped")
        if len(set(self.columns.values())) != len(self.columns):
            raise ValueError("two columns carry the same element or item")
        return self

    @property
    def target(self) -> str:
        """What the source loads, for messages and logs: a library's name or ``dataset:<code>``."""
        return self.library.value if self.library is not None else f"dataset:{self.resource}"

    @property
    def elements(self) -> list[str]:
        """Every element (item, for a dataset) this source carries, mapped or constant."""
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


# libyaml's safe loader where PyYAML was built with it: DAG files read sources.yaml at every parse,
# and the pure-Python loader takes most of a parse's time.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_sources(path: Path) -> SourcesFile:
    """Parse and validate a sources file."""
    return SourcesFile.model_validate(yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER))
