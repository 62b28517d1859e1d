"""FastAPI application: the JSON API under /api/v1, and the `govdx` command line."""
