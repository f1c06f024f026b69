"""The real server: `serve` in a subprocess, as `make serve` runs it, and the examples against it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import ROOT, running_runtime


def test_serve_loads_example_graphs_and_says_what_to_call_next(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path}/inkeep.db"
    with running_runtime("--database-url", database, "--graphs", "graphs") as (base, lines):
        listed = httpx.get(f"{base}/tenants/default/crud/projects/default/agent-graphs?limit=100").json()
        graph = httpx.get(f"{base}/tenants/default/crud/projects/default/graph/customer-support")
    expected = sorted(path.stem for path in (ROOT / "graphs").glob("*.json"))
    assert sorted(item["id"] for item in listed["data"]) == expected
    assert graph.status_code == 200
    banner = "\n".join(lines)
    assert f"serving on {base}" in banner
    assert "next:" in banner
    assert "curl" in banner


def test_serve_refuses_a_public_address_without_an_admin_token(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "inkeep_runtime",
            "serve",
            "--host",
            "0.0.0.0",
            "--database-url",
            f"sqlite+aiosqlite:///{tmp_path}/x.db",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "INKEEP_ADMIN_TOKEN" in result.stderr


def test_manage_graph_example_runs_against_the_server(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path}/inkeep.db"
    with running_runtime("--database-url", database) as (base, _lines):
        result = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "manage_graph.py"), base],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert '"greeter"' in result.stdout
    assert '"helper"' in result.stdout
