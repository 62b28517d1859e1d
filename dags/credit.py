"""公共信用库 (public credit library): 信用办 双公示 (行政许可, 行政处罚) and 法院 失信被执行人.
Ends with a quality report."""

from airflow.sdk import DAG

from catalog_schema.types import Library
from dags.pipelines import library_dag

dag: DAG = library_dag(Library.credit, doc_md=__doc__)
