"""The processes under test: start one on a free loopback port (pinned to chosen cores), wait for it to be
healthy, and read its CPU time and resident memory from /proc (no psutil needed)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["PYTHON", "CpuSample", "Proc", "cpu_sample", "cpu_used_s", "free_port", "rss_kib", "run_checked", "start"]

ROOT = Path(__file__).resolve().parent.parent
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(slots=True, kw_only=True)
class Proc:
    """One started process and where to reach it."""

    name: str
    popen: subprocess.Popen[bytes]
    base_url: str
    log: Path
    startup_s: float = 0.0
    """From `Popen` until `/health` first answered 200."""
    cpus: set[int] | None = field(default=None)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        """Terminate (then kill) this process, which the bench started itself."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def tail(self, lines: int = 30) -> str:
        """The end of the process's output (for error messages)."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(name: str, argv: list[str], *, port: int, log: Path, cpus: set[int] | None, timeout_s: float = 60) -> Proc:
    """Start `argv` (which must listen on `port`) and wait until `GET /health` answers 200.

    Raises:
        RuntimeError: The process exited or did not become healthy within `timeout_s`.
    """

    def pin() -> None:  # runs in the child before exec, so every thread it ever starts stays on `cpus`
        if cpus:
            os.sched_setaffinity(0, cpus)

    out = log.open("wb")
    began = time.perf_counter()
    popen = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, preexec_fn=pin)
    out.close()
    proc = Proc(name=name, popen=popen, base_url=f"http://127.0.0.1:{port}", log=log, cpus=cpus)
    deadline = began + timeout_s
    with httpx.Client(timeout=1) as client:
        while True:
            if popen.poll() is not None:
                msg = f"{name} exited with status {popen.returncode}:\n{proc.tail()}"
                raise RuntimeError(msg)
            try:
                if client.get(f"{proc.base_url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.perf_counter() > deadline:
                proc.stop()
                msg = f"{name} did not answer /health within {timeout_s:g} s:\n{proc.tail()}"
                raise RuntimeError(msg)
            time.sleep(0.01)  # noqa: TID251 - the bench's own sync start-up, not a request path
    proc.startup_s = time.perf_counter() - began
    return proc


def run_checked(argv: list[str]) -> str:
    """Run a command to completion; return its output.

    Raises:
        RuntimeError: It failed (its output is in the message).
    """
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        msg = f"{' '.join(argv)} failed with status {result.returncode}:\n{result.stdout}{result.stderr}"
        raise RuntimeError(msg)
    return result.stdout


@dataclass(frozen=True, slots=True)
class CpuSample:
    """A process's CPU time (user + system, all threads) read two ways."""

    stat_s: float
    """From `/proc/PID/stat`: includes threads that have exited, but counts in 10 ms ticks."""
    schedstat_s: float
    """Sum of `/proc/PID/task/*/schedstat`: nanoseconds, but only threads alive at the time."""


def cpu_sample(pid: int) -> CpuSample:
    """Read the CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    from_stat = (int(fields[11]) + int(fields[12])) / _TICKS_PER_S  # utime, stime (fields 14 and 15)
    from_schedstat = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            from_schedstat += int((task / "schedstat").read_text().split()[0]) / 1e9
        except (OSError, IndexError, ValueError):  # a thread that just exited
            continue
    return CpuSample(from_stat, from_schedstat)


def cpu_used_s(before: CpuSample, after: CpuSample) -> float:
    """CPU seconds used between two samples: the exact `schedstat` difference, unless `stat` says more
    than two ticks more was used (threads exited in between, taking their counters with them)."""
    by_stat = after.stat_s - before.stat_s
    by_schedstat = after.schedstat_s - before.schedstat_s
    return by_stat if by_stat - by_schedstat > 2 / _TICKS_PER_S else by_schedstat


def rss_kib(pid: int) -> int:
    """Resident set size of the process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    msg = f"/proc/{pid}/status has no VmRSS line."
    raise RuntimeError(msg)


PYTHON = sys.executable
