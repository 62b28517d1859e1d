"""Machine clients of departments: credentials that can be rotated and revoked."""
