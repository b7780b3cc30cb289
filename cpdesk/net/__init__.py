"""The index API client: TLS with pins, FHIR parsing, typed errors (plain Python, no Qt)."""

from cpdesk.net.client import IndexClient, SignInResult, make_http_session

__all__ = ["IndexClient", "SignInResult", "make_http_session"]
