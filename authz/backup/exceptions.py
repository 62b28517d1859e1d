"""What backup, verify and restore refuse: a stable code, and a message in Chinese and English."""

from catalog_schema.errors import GovdxError


class BackupError(GovdxError):
    """A backup cannot be made or used as asked: missing passphrase or tool, target in the way."""

    status = 400
    code = "backup_error"


class BackupRefused(BackupError):
    """The backup does not verify: wrong passphrase, a file or the manifest changed, the chain broken."""

    status = 409
    code = "backup_refused"
