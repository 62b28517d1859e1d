"""资源数据集 (库表交换): one DAG per declared dataset source, loading a provider's own table into its
resource's dataset, then a Great Expectations report."""

from airflow.sdk import DAG

from dags.pipelines import dataset_dag
from ingest import declared

dags: dict[str, DAG] = {
    spec.name: dataset_dag(spec.name, spec.resource, title=spec.title)
    for spec in declared.dataset_sources()
    if spec.resource is not None
}
globals().update({f"dag_{name}": dag for name, dag in dags.items()})
