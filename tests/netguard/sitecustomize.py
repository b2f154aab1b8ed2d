"""Loaded by every Python process started with this folder on PYTHONPATH: any attempt to reach
a host other than this machine is refused and written to $NETGUARD_LOG, so a test can fail on it.
"""

import os
import socket

_LOG = os.environ.get("NETGUARD_LOG")
_LOCAL = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "", None}
_real_connect, _real_connect_ex, _real_getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo


def _local(host) -> bool:
    return host in _LOCAL or str(host).startswith("127.")


def _refuse(what: str):
    if _LOG:
        with open(_LOG, "a") as f:
            f.write(what + "\n")
    raise OSError(f"network access refused by the test guard: {what}")


def _connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _refuse(f"connect {address!r}")
    return _real_connect(self, address)


def _connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _refuse(f"connect_ex {address!r}")
    return _real_connect_ex(self, address)


def _getaddrinfo(host, *args, **kwargs):
    if not _local(host if not isinstance(host, bytes) else host.decode()):
        _refuse(f"getaddrinfo {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


if _LOG:
    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = _connect, _connect_ex, _getaddrinfo
