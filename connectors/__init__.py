"""Department sources: SQL databases, files and HTTP APIs read as Arrow batches."""
