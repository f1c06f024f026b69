"""The command line (`migrate`, `push`) and loading graph files when the app starts."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from inkeep_runtime import Settings, create_app
from inkeep_runtime.cli import main
from tests.conftest import running_lifespan

GRAPHS = Path(__file__).parents[1] / "graphs"
SUPPORT = GRAPHS / "customer-support.json"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite file."""
    return f"sqlite+aiosqlite:///{tmp_path}/cli.db"


def test_migrate_applies_then_reports_up_to_date(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--database-url", database_url]) == 0
    assert capsys.readouterr().out.startswith("Applied m001")
    assert main(["migrate", "--database-url", database_url]) == 0
    assert capsys.readouterr().out.strip() == "Database is up to date."


def test_push_twice_creates_then_reports_unchanged(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["push", str(SUPPORT), "--tenant", "acme", "--project", "help", "--database-url", database_url]
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == "Created graph 'customer-support' (5 agents, 1 tool) in acme/help."
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == "Unchanged graph 'customer-support' (5 agents, 1 tool) in acme/help."


def test_push_of_a_bad_file_exits_1_naming_the_pointer(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(SUPPORT.read_text())
    document["defaultAgentId"] = "nobody"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    assert main(["push", str(bad), "--database-url", database_url]) == 1
    error = capsys.readouterr().err
    assert "/defaultAgentId" in error
    assert str(bad) in error


def test_push_of_a_missing_file_exits_1(database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", str(tmp_path / "nope.json"), "--database-url", database_url]) == 1
    assert "nope.json" in capsys.readouterr().err


async def test_app_loads_the_graphs_folder_at_start_up(tmp_path: Path) -> None:
    settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp_path}/app.db", graphs_dir=GRAPHS)
    app = create_app(settings)
    async with running_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            listed = await client.get("/tenants/default/crud/projects/default/agent-graphs")
            support = await client.get("/tenants/default/crud/projects/default/graph/customer-support")
    assert sorted(graph["id"] for graph in listed.json()["data"]) == ["customer-support", "research"]
    assert support.json()["data"]["defaultAgentId"] == "router"
