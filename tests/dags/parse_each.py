"""Parse every DAG file of a folder as Airflow's DAG processor does, one forked child per file.

The parent imports Airflow and none of govdx; each child pre-imports the Airflow modules its
file names (as ``[dag_processor] parsing_pre_import_modules`` does), then times one
``DagBag`` over that file alone, so no file's import cost hides behind another's cached
modules. Prints one ``PARSED {json}`` line per file Airflow would parse (``.airflowignore``
applied); Airflow's own log lines share stdout.

Run as ``python -m tests.dags.parse_each dags/``.
"""

import importlib
import json
import os
import sys
import time
from typing import Any

from airflow.dag_processing.dagbag import DagBag
from airflow.utils.file import iter_airflow_imports, list_py_file_paths

# Libraries a DAG file must not pull in at parse time: tasks import them when they run.
HEAVY = frozenset({"pandas", "pyarrow", "numpy", "great_expectations", "openpyxl"})


def parse(path: str) -> dict[str, Any]:
    """Parse one file in this process; its parse time, DAGs, import errors and heavy imports."""
    before = set(sys.modules)
    for module in iter_airflow_imports(path):
        importlib.import_module(module)
    started = time.perf_counter()
    bag = DagBag(dag_folder=path)
    seconds = time.perf_counter() - started
    heavy = sorted({m.split(".")[0] for m in set(sys.modules) - before} & HEAVY)
    return {
        "file": os.path.basename(path),
        "seconds": round(seconds, 3),
        "dags": sorted(bag.dag_ids),
        "errors": {os.path.basename(k): v for k, v in bag.import_errors.items()},
        "heavy": heavy,
    }


def parse_in_child(path: str) -> dict[str, Any]:
    """Parse one file in a child forked from this process, which has imported no govdx module."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        status = 0
        try:
            result = parse(path)
        except BaseException as exc:  # the parent reports it; the child must still exit
            result, status = {"file": os.path.basename(path), "crashed": repr(exc)}, 1
        with os.fdopen(write_end, "w") as out:
            out.write(json.dumps(result))
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        result = json.loads(answer.read())
    os.waitpid(pid, 0)
    return result


if __name__ == "__main__":
    for path in list_py_file_paths(sys.argv[1]):
        print("PARSED", json.dumps(parse_in_child(path)), flush=True)
