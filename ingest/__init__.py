"""The ingest engine: department sources into base-library rows, quarantine and discrepancy tickets."""
