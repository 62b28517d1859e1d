"""The ``celery`` extra imports what the scheduler and the workers import.

``pip check`` is clean with celery 5.7.0, yet the scheduler then dies on
``cannot import name 'retry' from 'celery.backends.database'``: the provider's executor imports
names celery 5.7 removed. Skipped where the extra is not installed.
"""

import importlib

import pytest

pytest.importorskip(
    "airflow.providers.celery",
    reason="the celery extra is not installed (pip install -e '.[celery]')",
)


@pytest.mark.parametrize(
    "module",
    [
        "airflow.providers.celery.executors.celery_executor",
        "airflow.providers.celery.executors.celery_executor_utils",
        "airflow.providers.celery.cli.celery_command",
    ],
)
def test_the_scheduler_and_worker_modules_of_the_celery_executor_import(module: str) -> None:
    importlib.import_module(module)


def test_celery_keeps_the_database_backend_names_the_executor_imports() -> None:
    from celery.backends import database

    missing = {"DatabaseBackend", "Task", "retry", "session_cleanup"} - set(vars(database))
    assert missing == set(), f"celery.backends.database lacks {missing}: keep celery at 5.6 (the extra's pin)"
