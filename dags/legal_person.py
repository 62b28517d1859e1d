"""法人库 (legal-person library): 市场监管 企业登记, 编办 事业单位 and 民政 社会组织, each the
registering authority of its own credit codes (GB 32100 first character). Ends with a quality report."""

from airflow.sdk import DAG

from catalog_schema.types import Library
from dags.pipelines import library_dag

dag: DAG = library_dag(Library.legal_person, doc_md=__doc__)
