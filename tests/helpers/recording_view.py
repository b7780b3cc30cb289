"""A stand-in for a controller's view protocol in Qt-free tests: it records each call of
the protocol's public methods as (name, args) and refuses any other attribute, so a
controller calling something its view does not declare fails the test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class RecordingView:
    def __init__(self, protocol: type) -> None:
        self.methods = frozenset(name for name in vars(protocol) if not name.startswith("_"))
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("_") or name not in self.__dict__.get("methods", ()):
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, args))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def calls_of(self, name: str) -> list[tuple[Any, ...]]:
        """The arguments of each call of `name`, in order."""
        return [args for n, args in self.calls if n == name]

    def last(self, name: str) -> tuple[Any, ...]:
        return self.calls_of(name)[-1]

    def said(self, name: str) -> list[Any]:
        """The first argument of each call of `name` (what a view was told to show)."""
        return [args[0] for args in self.calls_of(name)]

    def clear(self) -> None:
        self.calls.clear()
