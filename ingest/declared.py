"""What the pipeline DAGs are built from: the declared sources of each library and dataset, and
the dataset DAGs' ids.

DAG files import this module at parse time, so it stays light: ``sources.yaml`` and the settings,
never the ingest engine, the database models, pandas or Arrow (Airflow best practices, "Top level
Python code"; the test in ``tests/dags`` holds each DAG file's parse under half a second).
"""

from catalog_schema.types import Library
from connectors.config import SourceSpec, load_sources
from ingest.settings import PipelineSettings


def sources_of(library: Library, settings: PipelineSettings | None = None) -> list[SourceSpec]:
    """Declared sources of ``library``, in declaration order."""
    settings = settings or PipelineSettings()
    return [s for s in load_sources(settings.sources_file).sources if s.library is library]


def dataset_sources(settings: PipelineSettings | None = None) -> list[SourceSpec]:
    """Declared sources of resource datasets (库表交换), in declaration order."""
    settings = settings or PipelineSettings()
    return [s for s in load_sources(settings.sources_file).sources if s.resource is not None]


def dataset_dag_id(source: str) -> str:
    """The id of the DAG that loads a dataset source."""
    return f"govdx_dataset_{source}"
