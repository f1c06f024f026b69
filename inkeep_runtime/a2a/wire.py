"""A2A objects in one neutral form, and their JSON in each protocol version we serve (0.3 and 1.0).

The server keeps tasks, messages and artifacts as plain JSON-ready dicts in a *neutral* spelling: the
1.0 field names (camelCase, `{"text": ...}` / `{"data": ...}` parts, no `kind`) with the 0.3 spelling
of enums (`"working"`, `"agent"`), because those read well in the database and in logs. `Wire03` and
`Wire10` render the neutral form for a client of one version (reference/protocols.md §C.2):

* 0.3 adds the `kind` discriminators (`task`, `message`, `status-update`, `artifact-update`, and
  `text` / `data` on parts), keeps lower-case kebab enums, puts a Task or Message directly in
  `result`, and marks the last status update of a stream `final: true`.
* 1.0 writes enums in SCREAMING_SNAKE (`TASK_STATE_WORKING`, `ROLE_AGENT`) and wraps results in a
  one-key object (`{"task": ...}`, `{"statusUpdate": ...}`); a stream simply ends after its terminal
  status, so there is no `final`.

Updates are frozen dataclasses fanned out to every subscriber of a running task; each subscriber
encodes them for its own version. The per-token path (one `ArtifactUpdate` per text delta) builds a
few small dicts and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "HOPS_HEADER",
    "INTERRUPTED_STATES",
    "TERMINAL_STATES",
    "ArtifactUpdate",
    "StatusUpdate",
    "TaskState",
    "Update",
    "Version",
    "Wire",
    "Wire03",
    "Wire10",
    "agent_message",
    "wire_for",
]

Version = Literal["0.3", "1.0"]

HOPS_HEADER: Final = "x-inkeep-a2a-hops"
"""How many A2A calls between servers led to a message (our extension; peers that do not send it start at 0)."""
TaskState = Literal[
    "submitted", "working", "input-required", "auth-required", "completed", "canceled", "failed", "rejected"
]
TERMINAL_STATES: Final = frozenset({"completed", "canceled", "failed", "rejected"})
"""States a task never leaves."""
INTERRUPTED_STATES: Final = frozenset({"input-required", "auth-required"})
"""States that end a blocking `message/send` although the task is not over (we never enter them yet)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusUpdate:
    """The task's state changed, or something worth telling happened while it works (metadata)."""

    task_id: str
    context_id: str
    state: str
    timestamp: str
    message: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None

    @property
    def is_final(self) -> bool:
        """Whether this update ends the task's stream."""
        return self.state in TERMINAL_STATES or self.state in INTERRUPTED_STATES


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactUpdate:
    """Parts added to the task's answer artifact (`append`: to the parts already sent)."""

    task_id: str
    context_id: str
    artifact: dict[str, Any]
    append: bool


Update = StatusUpdate | ArtifactUpdate
"""What a running task tells its subscribers."""


def agent_message(parts: list[dict[str, Any]], *, message_id: str, task_id: str, context_id: str) -> dict[str, Any]:
    """A neutral message from the agent."""
    return {"messageId": message_id, "role": "agent", "parts": parts, "taskId": task_id, "contextId": context_id}


class Wire:
    """Renders neutral objects for one protocol version."""

    version: Version

    def task(self, task: dict[str, Any]) -> dict[str, Any]:
        """A Task object."""
        raise NotImplementedError

    def send_result(self, task: dict[str, Any]) -> dict[str, Any]:
        """The `result` of a `message/send` that returns a task."""
        raise NotImplementedError

    def update(self, update: Update) -> dict[str, Any]:
        """The `result` of one streamed update."""
        raise NotImplementedError

    def stream_task(self, task: dict[str, Any]) -> dict[str, Any]:
        """The `result` of the first event of a stream (the task as it is now)."""
        raise NotImplementedError


class Wire03(Wire):
    """A2A 0.3 JSON (`kind` discriminators, kebab-case enums)."""

    version: Version = "0.3"

    @staticmethod
    def _part(part: dict[str, Any]) -> dict[str, Any]:
        if "text" in part:
            rendered: dict[str, Any] = {"kind": "text", "text": part["text"]}
        else:
            data = part.get("data")
            rendered = {"kind": "data", "data": data if isinstance(data, dict) else {"value": data}}
        if part.get("metadata"):
            rendered["metadata"] = part["metadata"]
        return rendered

    def message(self, message: dict[str, Any]) -> dict[str, Any]:
        """A Message object."""
        rendered = {**message, "kind": "message", "parts": [self._part(p) for p in message["parts"]]}
        return rendered

    def _artifact(self, artifact: dict[str, Any]) -> dict[str, Any]:
        return {**artifact, "parts": [self._part(p) for p in artifact["parts"]]}

    def _status(self, status: dict[str, Any]) -> dict[str, Any]:
        rendered = {"state": status["state"], "timestamp": status["timestamp"]}
        if status.get("message"):
            rendered["message"] = self.message(status["message"])
        return rendered

    def task(self, task: dict[str, Any]) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "kind": "task",
            "id": task["id"],
            "contextId": task["contextId"],
            "status": self._status(task["status"]),
            "artifacts": [self._artifact(a) for a in task.get("artifacts", [])],
            "history": [self.message(m) for m in task.get("history", [])],
        }
        if task.get("metadata"):
            rendered["metadata"] = task["metadata"]
        return rendered

    def send_result(self, task: dict[str, Any]) -> dict[str, Any]:
        return self.task(task)

    def stream_task(self, task: dict[str, Any]) -> dict[str, Any]:
        return self.task(task)

    def update(self, update: Update) -> dict[str, Any]:
        if isinstance(update, ArtifactUpdate):
            artifact = update.artifact
            return {
                "kind": "artifact-update",
                "taskId": update.task_id,
                "contextId": update.context_id,
                "artifact": {**artifact, "parts": [self._part(p) for p in artifact["parts"]]},
                "append": update.append,
            }
        status: dict[str, Any] = {"state": update.state, "timestamp": update.timestamp}
        if update.message is not None:
            status["message"] = self.message(update.message)
        rendered: dict[str, Any] = {
            "kind": "status-update",
            "taskId": update.task_id,
            "contextId": update.context_id,
            "status": status,
            "final": update.is_final,
        }
        if update.metadata:
            rendered["metadata"] = update.metadata
        return rendered


class Wire10(Wire):
    """A2A 1.0 JSON (ProtoJSON: SCREAMING_SNAKE enums, one-key result wrappers, no `kind`)."""

    version: Version = "1.0"

    @staticmethod
    def _part(part: dict[str, Any]) -> dict[str, Any]:
        if "text" in part:
            rendered: dict[str, Any] = {"text": part["text"]}
        else:
            rendered = {"data": part.get("data"), "mediaType": "application/json"}
        if part.get("metadata"):
            rendered["metadata"] = part["metadata"]
        return rendered

    @staticmethod
    def state(state: str) -> str:
        """`input-required` → `TASK_STATE_INPUT_REQUIRED`."""
        return "TASK_STATE_" + state.upper().replace("-", "_")

    def message(self, message: dict[str, Any]) -> dict[str, Any]:
        """A Message object."""
        role = "ROLE_AGENT" if message["role"] == "agent" else "ROLE_USER"
        return {**message, "role": role, "parts": [self._part(p) for p in message["parts"]]}

    def _status(self, state: str, timestamp: str, message: dict[str, Any] | None) -> dict[str, Any]:
        rendered: dict[str, Any] = {"state": self.state(state), "timestamp": timestamp}
        if message:
            rendered["message"] = self.message(message)
        return rendered

    def task(self, task: dict[str, Any]) -> dict[str, Any]:
        status = task["status"]
        rendered: dict[str, Any] = {
            "id": task["id"],
            "contextId": task["contextId"],
            "status": self._status(status["state"], status["timestamp"], status.get("message")),
            "artifacts": [{**a, "parts": [self._part(p) for p in a["parts"]]} for a in task.get("artifacts", [])],
            "history": [self.message(m) for m in task.get("history", [])],
        }
        if task.get("metadata"):
            rendered["metadata"] = task["metadata"]
        return rendered

    def send_result(self, task: dict[str, Any]) -> dict[str, Any]:
        return {"task": self.task(task)}

    def stream_task(self, task: dict[str, Any]) -> dict[str, Any]:
        return {"task": self.task(task)}

    def update(self, update: Update) -> dict[str, Any]:
        if isinstance(update, ArtifactUpdate):
            artifact = update.artifact
            return {
                "artifactUpdate": {
                    "taskId": update.task_id,
                    "contextId": update.context_id,
                    "artifact": {**artifact, "parts": [self._part(p) for p in artifact["parts"]]},
                    "append": update.append,
                }
            }
        rendered: dict[str, Any] = {
            "taskId": update.task_id,
            "contextId": update.context_id,
            "status": self._status(update.state, update.timestamp, update.message),
        }
        if update.metadata:
            rendered["metadata"] = update.metadata
        return {"statusUpdate": rendered}


_WIRES: Final[dict[str, Wire]] = {"0.3": Wire03(), "1.0": Wire10()}


def wire_for(version: Version) -> Wire:
    """The renderer of `version`."""
    return _WIRES[version]
