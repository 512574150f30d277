"""What a benchmark ran on, recorded beside its figures: Python, cores, and the versions of
the libraries on Digest's hot paths (a figure is only comparable with the same set)."""

from __future__ import annotations

import os
import platform
from importlib import metadata

PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "sqlalchemy",
    "psycopg",
    "celery",
    "kombu",
    "redis",
    "jinja2",
    "premailer",
    "feedparser",
)


def environment() -> dict[str, object]:
    """Python version, CPU count, load and library versions, JSON-ready."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "versions": versions,
    }
