"""Graph files: `inkeep-runtime push FILE` and loading a folder of graphs at start-up.

A file holds one full-graph document (the body of `PUT .../graph/{graphId}`). Pushing is idempotent:
the same file twice leaves the stored graph unchanged and says so.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import anyio
from pydantic import ValidationError

from inkeep_runtime.errors import ConfigError, FieldError, GraphDefinitionError, InvalidRequest, RequestError
from inkeep_runtime.http.endpoint import validation_errors
from inkeep_runtime.manage.full_graph import write_graph
from inkeep_runtime.manage.full_graph_models import FullGraphDefinition
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Rows, Scope

__all__ = ["load_graph_dir", "push_graph_file"]

logger = logging.getLogger(__name__)


def _definition_error(file: Path, errors: list[FieldError]) -> GraphDefinitionError:
    problems = "; ".join(f"{error.pointer}: {error.message}" for error in errors)
    return GraphDefinitionError(
        f"Graph file {file} is invalid at {problems}",
        file=str(file),
        pointer=errors[0].pointer,
        errors=[error.to_dict() for error in errors],
    )


async def _read_document(file: Path) -> FullGraphDefinition:
    try:
        text = await anyio.Path(file).read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as exc:
        message = f"Cannot read the file ({exc.strerror})."
        raise _definition_error(file, [FieldError(pointer="/", message=message)]) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        message = f"Not valid UTF-8 JSON: {exc}."
        raise _definition_error(file, [FieldError(pointer="/", message=message)]) from exc
    if not isinstance(data, dict):
        message = f"Expected a JSON object (a full-graph document), not {type(data).__name__}."
        raise _definition_error(file, [FieldError(pointer="/", message=message)])
    try:
        return FullGraphDefinition.model_validate(data)
    except ValidationError as exc:
        raise _definition_error(file, validation_errors(exc)) from exc


async def _ensure_project(rows: Rows, scope: Scope) -> bool:
    assert scope.project_id is not None
    if await rows.get("projects", Scope(scope.tenant_id), scope.project_id) is not None:
        return False
    values = {"id": scope.project_id, "name": scope.project_id, "description": "Created by inkeep-runtime push."}
    await rows.insert("projects", Scope(scope.tenant_id), values, label="Project")
    return True


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


async def _push(store: Store, scope: Scope, file: Path) -> tuple[str, str]:
    doc = await _read_document(file)
    try:
        async with store.write(scope.key) as session:
            rows = Rows(session)
            is_new_project = await _ensure_project(rows, scope)
            outcome = await write_graph(rows, scope, doc)
    except InvalidRequest as exc:
        raise _definition_error(file, exc.errors or [FieldError(pointer="/", message=exc.detail)]) from exc
    except RequestError as exc:
        msg = f"Graph file {file} cannot be stored: {exc.detail}"
        raise GraphDefinitionError(msg, file=str(file)) from exc
    verb = "Created" if outcome.is_created else "Updated" if outcome.is_changed or is_new_project else "Unchanged"
    tools = set(doc.tools).union(*(agent.tools for agent in doc.internal_agents().values()))
    summary = (
        f"{verb} graph '{doc.id}' ({_plural(len(doc.agents), 'agent')}, {_plural(len(tools), 'tool')}) "
        f"in {scope.tenant_id}/{scope.project_id}."
    )
    return doc.id, summary


async def push_graph_file(store: Store, scope: Scope, file: Path) -> str:
    """Create or update the graph in a full-graph JSON file (creating the project if needed); idempotent.

    Returns:
        A one-line summary: "Created ...", "Updated ..." or "Unchanged ...".

    Raises:
        GraphDefinitionError: the file is unreadable or inconsistent (names the file and JSON pointer).
    """
    return (await _push(store, scope, file))[1]


async def load_graph_dir(store: Store, scope: Scope, folder: Path) -> list[str]:
    """Push every `*.json` file of `folder` (sorted by name); return the graph ids.

    Raises:
        ConfigError: the folder does not exist.
        GraphDefinitionError: a file is invalid (nothing after it is loaded).
    """
    if not await anyio.Path(folder).is_dir():
        msg = f"Graphs folder {folder} does not exist or is not a directory."
        raise ConfigError(msg)
    files = sorted([Path(path) async for path in anyio.Path(folder).glob("*.json")])
    ids: list[str] = []
    for file in files:
        graph_id, summary = await _push(store, scope, file)
        logger.info("%s", summary)
        ids.append(graph_id)
    return ids
