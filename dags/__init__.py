"""Airflow DAG files: thin wiring of tasks into connectors/, quality/ and catalog_schema/."""
