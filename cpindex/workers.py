"""`cpindex serve --workers N`: N server processes sharing one listening socket and one store.

One process is one GIL: searches are CPU work, so a second core needs a second process.
The parent binds the socket (so the port is taken once, and a bad address fails before
any child starts), then forks the workers before it has opened the store or started a
thread; each worker builds its own engine, app and audit group writer, and the kernel
spreads connections between them. Appends from all workers form one chain: each group
locks the chain head row (cpindex.audit.group).

The parent prints "cpindex ready on URL" once every worker accepts connections; SIGTERM
or SIGINT stops them all (exit status 0); a worker that dies stops the rest (status 1).
A worker whose parent has gone (killed) stops itself. POSIX only (fork).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

from cpindex.config import ServerSettings

__all__ = ["serve_workers"]

Worker = Callable[[socket.socket, Callable[[], None]], int]


def _bind(settings: ServerSettings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host.strip("[]"), settings.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _orphan_watch(parent: int) -> None:
    """Stop this worker when its parent is gone (a killed parent sends no SIGTERM)."""
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)


def serve_workers(settings: ServerSettings, url: str, demo_codes: bool, worker: Worker) -> int:
    """Fork `settings.workers` processes running `worker(sock, ready)`; wait for them."""
    if not hasattr(os, "fork"):
        print("cpindex: --workers above 1 needs a POSIX system", file=sys.stderr)
        return 2
    sock = _bind(settings)
    ready_read, ready_write = os.pipe()
    parent = os.getpid()
    children: list[int] = []
    for _ in range(settings.workers):
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(ready_read)
            threading.Thread(target=_orphan_watch, args=(parent,), daemon=True).start()

            def ready() -> None:
                os.write(ready_write, b".")

            status = 1
            try:
                status = worker(sock, ready)
            finally:
                os._exit(status)
        children.append(pid)
    os.close(ready_write)
    sock.close()
    return _supervise(children, ready_read, url, demo_codes)


def _supervise(children: list[int], ready_read: int, url: str, demo_codes: bool) -> int:
    stopping = threading.Event()

    def stop(_signum: int, _frame: object) -> None:
        stopping.set()
        for pid in children:
            _signal(pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        started = 0
        while started < len(children):
            chunk = os.read(ready_read, 64)
            if not chunk:  # every worker closed the pipe: none will start now
                stop(0, None)
                break
            started += len(chunk)
        if started == len(children):
            if demo_codes:
                from cpindex.serve import demo_code_lines

                print("\n".join(demo_code_lines()), flush=True)
            print(f"cpindex ready on {url}", flush=True)
        status = 0 if started == len(children) else 1
        remaining = set(children)
        while remaining:
            pid, code = os.wait()
            remaining.discard(pid)
            if not stopping.is_set():  # a worker died on its own: stop the rest
                status = 1
                stop(0, None)
            elif os.waitstatus_to_exitcode(code) != 0:
                status = 1
        return status
    finally:
        os.close(ready_read)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
