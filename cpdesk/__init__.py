"""cpdesk: desktop client for the national children's contact index."""

__version__ = "0.1.0"
