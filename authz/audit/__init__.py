"""The access log: append-only, hash-chained, with signed checkpoints."""
