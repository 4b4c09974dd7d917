"""Free loopback ports for the components of a cluster.

Every component binds 127.0.0.1 on a port chosen here, so several clusters run side by side and a port
already taken by something else is simply passed over. A port is "free" when we can bind it now; ports
handed out in one allocation are never repeated, even before their component binds them.
"""

from __future__ import annotations

import socket


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on the port now.

    `SO_REUSEADDR`, as every server sets it, so connections lingering in TIME_WAIT after their server
    stopped do not count as a taken port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


class PortAllocator:
    """Hands out distinct free ports; a preferred port is used when it is free."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.taken: set[int] = set()

    def allocate(self, preferred: int | None = None) -> int:
        if preferred and preferred not in self.taken and is_free(preferred, self.host):
            self.taken.add(preferred)
            return preferred
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((self.host, 0))
                port = int(sock.getsockname()[1])
            if port not in self.taken:
                self.taken.add(port)
                return port
        raise OSError("no free loopback port found")  # pragma: no cover - kernel ran out of ports
