"""The four base libraries: versioned records, ingest batches, quarantine and discrepancy tickets."""
