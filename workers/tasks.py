"""Celery tasks: each takes ids, opens a session, calls one core function, owns its retries."""

from __future__ import annotations
