"""The app uvicorn imports (`digest web`, or `uvicorn digest.web.server:app`): from settings."""

from digest.settings import get_settings
from digest.web.app import create_app

app = create_app(get_settings())
