"""Digest: newsletter digests for local news publishers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("digest")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0"
