"""Running the web application: one process, or several that share the load evenly.

uvicorn's own worker processes share one listening socket, and each process's event loop
takes every connection waiting on it when it wakes up. Connections that arrive together (a
reverse proxy opening its upstream pool, clients coming back after a restart) therefore tend
to land on one process and stay there for as long as they are kept alive, while the other
processes idle. Here each worker listens on a socket of its own bound to the same address
with ``SO_REUSEPORT``, and the kernel spreads new connections across them. The supervisor
keeps a socket bound to the address (never listening, so it receives nothing) to hold the
port while workers come and go. uvicorn's supervisor is used otherwise unchanged: health
pings, restarts of dead workers, ``SIGHUP``, ``SIGTTIN``/``SIGTTOU``.

One worker, or a platform without ``SO_REUSEPORT``, is served by ``uvicorn.run`` as it is.
"""

from __future__ import annotations

import logging
import socket
import sys
from contextlib import suppress
from typing import Any
from unittest import mock

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import multiprocess

APP = "cityops.app:create_app"
log = logging.getLogger("uvicorn.error")


def serve(*, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the application until interrupted (blocks)."""
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_level": log_level.lower(),
        "access_log": False,
    }
    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, **options)
        return
    config = uvicorn.Config(APP, **options)
    placeholder = _hold_address(config)
    # uvicorn's supervisor builds its workers by this module-level name.
    with mock.patch.object(multiprocess, "Process", _Worker), suppress(KeyboardInterrupt):
        multiprocess.Multiprocess(config, sockets=[placeholder]).run()


def _hold_address(config: uvicorn.Config) -> socket.socket:
    """A socket bound to the served address with ``SO_REUSEPORT``, not listening."""
    family = socket.AF_INET6 if config.host and ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        log.error("cannot bind %s:%d: %s", config.host, config.port, exc)
        sys.exit(STARTUP_FAILURE)
    sock.set_inheritable(True)
    log.info(
        "cityops serving on http://%s:%d with %d worker processes",
        config.host,
        sock.getsockname()[1],
        config.workers,
    )
    return sock


def listener_beside(held: socket.socket) -> socket.socket:
    """A socket of this process's own, bound to the address that ``held`` holds."""
    own = socket.socket(held.family, held.type)
    own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    own.bind(held.getsockname())
    return own


class _OwnListener(uvicorn.Server):
    """A worker's server: listens on a socket of its own instead of the shared one."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if sockets is not None:
            held, sockets = sockets, [listener_beside(sock) for sock in sockets]
            for sock in held:
                sock.close()  # this process's copy; the supervisor keeps its own
        await super().startup(sockets=sockets)


class _Worker(multiprocess.Process):
    """uvicorn's worker process, serving with :class:`_OwnListener`."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = _OwnListener(config=self.config)
        return self._server
