"""Errors a user can act on: the CLI prints them as one line, never a traceback."""


class DigestError(Exception):
    """Something the operator or editor can fix; the message says what and how."""


class ConfigError(DigestError):
    """A setting is wrong; the message starts with the setting's name."""
