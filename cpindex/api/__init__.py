"""The FastAPI application: `create_app(services)` is the server's composition root."""

from cpindex.api.app import Services, create_app

__all__ = ["Services", "create_app"]
