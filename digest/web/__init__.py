"""The readers' web app (FastAPI): signup, confirm, preferences, unsubscribe, archive."""

from digest.web.app import create_app

__all__ = ["create_app"]
