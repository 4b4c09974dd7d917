"""Serve a folder of bare repositories over HTTP as a long-running process (the demo's Git server).

Tests run `GitHttpServer` inside their own process; the demo needs it to outlive `headwater dev demo`
so a person can push to it afterwards. This entry point runs the same server in the foreground until
SIGTERM/SIGINT, with basic auth whose password is read from a file (never from argv, which `ps` shows),
and writes the port it bound to `--port-file` once it is ready to serve.

    python -m headwater.devcluster.gitserve --root DIR --username demo --password-file F --port-file P
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from headwater.devcluster.gitserver_http import GitHttpServer, HttpAuth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve bare Git repositories over HTTP (git http-backend).")
    parser.add_argument("--root", required=True, type=Path, help="folder holding the bare repositories")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password-file", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--port-file", required=True, type=Path, help="written with the port once serving")
    args = parser.parse_args(argv)

    password = args.password_file.read_text().strip()
    server = GitHttpServer(args.root, auth=HttpAuth.basic(args.username, password), port=args.port)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    server.start()
    try:
        temporary = args.port_file.with_suffix(".tmp")
        temporary.write_text(str(server.port))
        temporary.replace(args.port_file)
        print(f"serving {args.root} at {server.base_url}", flush=True)
        stopping.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
