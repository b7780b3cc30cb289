"""Fakes and probes for the cache tests: keyrings, a canary Bundle and a disk scanner."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from cpdesk.cache.keys import ScryptCost
from tests.cpdesk.net import samples

# scrypt at its cheapest: the tests prove behaviour, benchmarks/cache.py the real cost.
FAST = ScryptCost(n=2**4)

# Distinctive synthetic values: a hit in a scan can only come from this record.
CANARY = {
    "given": "Quillonette",
    "family": "Vantablackwood",
    "birth": "2013-02-27",
    "phone": "0113 496 0777",
    "nhs": "9434765919",
}


def canary_bundle(index_id: str = "c-1") -> bytes:
    body = samples.everything(index_id)
    patient = body["entry"][0]["resource"]
    patient["name"][1]["given"] = [CANARY["given"]]
    patient["name"][1]["family"] = CANARY["family"]
    patient["birthDate"] = CANARY["birth"]
    patient["telecom"][0]["value"] = CANARY["phone"]
    patient["identifier"][0]["value"] = CANARY["nhs"]
    return json.dumps(body).encode("utf-8")


def needles() -> list[bytes]:
    found = []
    for value in CANARY.values():
        found += [value.encode("utf-8"), value.encode("utf-16-le"), value.encode("utf-16-be")]
    return found


def scan(folders: Iterable[Path], wanted: list[bytes]) -> list[tuple[Path, bytes]]:
    """Every (file, needle) where a needle's bytes occur in a file under `folders`."""
    hits = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                hits += [(path, n) for n in wanted if n in data]
    return hits


class DictKeyring:
    """An in-memory keyring that counts calls."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}
        self.calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.calls += 1
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.calls += 1
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.calls += 1
        del self.items[(service, username)]


class LockedKeyring(DictKeyring):
    """Reports itself as a real backend but every write fails (a locked Secret Service)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError("Prompt dismissed")
