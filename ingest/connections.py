"""Airflow Connections as a source of credentials: the metadata database or a secrets backend.

Registered with ``connectors.credentials`` when the ingest engine is imported, it is asked only
for a ``conn_id`` no ``GOVDX_CONN_*`` or ``AIRFLOW_CONN_*`` variable holds. Inside a task Airflow
answers from the worker's secrets backends, then the API server's metadata database; outside a
task (the CLI) from the configured secrets backend and the environment. Airflow is imported on the
first question, not before, so a load outside Airflow never pays for it.
"""

from typing import Any

from connectors import credentials


def airflow_connection(conn_id: str) -> dict[str, Any] | None:
    """The fields of Airflow's connection ``conn_id``, or None when Airflow has none (or is absent)."""
    try:
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:
        return None
    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    return {
        "conn_type": conn.conn_type,
        "host": conn.host,
        "login": conn.login,
        "password": conn.password,
        "port": conn.port,
        "schema": conn.schema,
        "extra": conn.extra_dejson,
    }


credentials.register_lookup(airflow_connection)
