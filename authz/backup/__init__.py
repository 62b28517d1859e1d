"""Backup and restore of the platform's state: the database, the sealed keyring, a manifest."""
