"""电子证照库 (certificate library): 营业执照, 结婚证, 驾驶证 and 不动产权证 files of the issuing
departments, collected by the data bureau's certificate hub. Ends with a quality report."""

from airflow.sdk import DAG

from catalog_schema.types import Library
from dags.pipelines import library_dag

dag: DAG = library_dag(Library.certificate, doc_md=__doc__)
