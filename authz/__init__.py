"""Authentication, declared permissions, and (later) sharing requests, grants and audit."""
