"""人口库 (population library): 公安 户籍 is the identity source; 民政 婚姻, 卫健 出生/死亡 and 人社 参保
add the elements they are authoritative for and cross-check 公安's. Ends with a Great Expectations report."""

from airflow.sdk import DAG

from catalog_schema.types import Library
from dags.pipelines import library_dag

dag: DAG = library_dag(Library.population, doc_md=__doc__)
