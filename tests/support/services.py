"""Where the real services are: DIGEST_TEST_* variables, or a skip (a failure when CI=true)."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(variable: str, what: str) -> str:
    """The URL in `variable`; skips with a reason when unset, fails instead under CI=true."""
    value = os.environ.get(variable, "").strip()
    if value:
        return value
    reason = f"{what} not configured: set {variable} to run this test"
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def require_program(path: str, package: str) -> str:
    """The path of an installed program; skips when missing, fails instead under CI=true."""
    if os.access(path, os.X_OK):
        return path
    reason = f"{path} not installed (apt-get install {package})"
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)
