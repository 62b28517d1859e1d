"""Standard-code validators, Great Expectations suites and multi-source cross-checks."""
