"""电子证照库 (certificate library): each issuing department's files of its own types — 营业执照,
结婚证 and 离婚证, 驾驶证 and 行驶证, 不动产权证, 出生医学证明, 社会保障卡, 道路运输经营许可证 —
collected by the data bureau's certificate hub. Ends with a quality report."""

from airflow.sdk import DAG

from catalog_schema.types import Library
from dags.pipelines import library_dag

dag: DAG = library_dag(Library.certificate, doc_md=__doc__)
