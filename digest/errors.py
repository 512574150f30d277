"""Errors a user can act on: the CLI prints them as one line, never a traceback."""


class DigestError(Exception):
    """Something the operator or editor can fix; the message says what and how."""


class ConfigError(DigestError):
    """A setting is wrong; the message starts with the setting's name."""


class NotFoundError(DigestError):
    """A named thing does not exist; `kind` says what (community, newsletter, feed, edition).

    The message states the fact only: each shell adds its own hint (the CLI names the command
    that lists them, the admin pages link to the list).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class AlreadyExistsError(DigestError):
    """A thing with that name or URL exists already; `kind` as in NotFoundError."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class SchemaMissingError(DigestError):
    """The database has no tables yet (a server database is never migrated implicitly)."""
