"""Listening sockets bound before a server starts: a busy port is one line, not a traceback,
and the address a server listens on is printed once it is known."""

from __future__ import annotations

import errno
import socket

from rich.console import Console

from modelsync.errors import ConfigError


def listen_socket(host: str, port: int, *, what: str, option: str) -> socket.socket:
    """A socket bound to ``host:port`` before anything starts; a busy port is one ConfigError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"{what}: port {port} on {host} is already in use: stop what listens there "
                f"or choose another with {option}"
            ) from exc
        raise ConfigError(
            f"{what}: cannot listen on {host}:{port} ({exc.strerror}): check {option} and --host"
        ) from exc
    return sock


def local_host(host: str) -> str:
    """The address to reach ``host`` at from this machine (loopback for a bind-all host)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a bind-all host


def listening(console: Console, what: str, host: str, sock: socket.socket) -> str:
    """Print (to stderr) the address ``what`` listens on; returns its base URL."""
    port = sock.getsockname()[1]
    base = f"http://{local_host(host)}:{port}"
    console.print(f"{what} listening on {base}", highlight=False, soft_wrap=True)
    return base
