"""Real servers for tests: the runtime as a subprocess on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["free_port", "running_runtime"]

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_runtime(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 30
) -> Iterator[tuple[str, list[str]]]:
    """Run `python -m inkeep_runtime serve ARGS` on a free port; yield (base URL, output lines so far)."""
    port = free_port()
    command = [sys.executable, "-m", "inkeep_runtime", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                msg = f"server exited with {process.returncode}:\n{output}"
                raise RuntimeError(msg)
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                msg = "server did not become healthy in time"
                raise RuntimeError(msg)
            time.sleep(0.1)  # noqa: TID251 - a sync test helper, not the request path
        yield base, lines
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        lines.extend(output.splitlines())
