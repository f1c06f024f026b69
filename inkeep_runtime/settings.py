"""Runtime settings.

`Settings.from_env` is the only reader of `os.environ` in the package: every other module receives a
`Settings` instance. All bad keys are reported together in one `ConfigError`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from inkeep_runtime.errors import ConfigError

__all__ = ["DEFAULT_DATABASE_URL", "Settings", "is_loopback_host"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/inkeep.db"


def is_loopback_host(host: str) -> bool:
    """Tell whether binding `host` exposes the server only to this machine."""
    if host in {"localhost", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_INTEGERS = (
    ("INKEEP_PORT", "port", 0, 65535),
    ("INKEEP_MAX_BODY_BYTES", "max_body_bytes", 1024, 1024**3),
    ("INKEEP_SQLITE_BUSY_TIMEOUT_MS", "sqlite_busy_timeout_ms", 0, 600_000),
    ("INKEEP_CONTEXT_MAX_RESPONSE_BYTES", "context_max_response_bytes", 1024, 1024**3),
    ("INKEEP_QUERY_LOG_RETENTION_DAYS", "query_log_retention_days", 0, 36_500),
)
_SECONDS = (
    ("INKEEP_LLM_TIMEOUT_S", "llm_timeout_s"),
    ("INKEEP_TOOL_TIMEOUT_S", "tool_timeout_s"),
    ("INKEEP_RUN_DEADLINE_S", "run_deadline_s"),
    ("INKEEP_APPROVAL_TIMEOUT_S", "approval_timeout_s"),
    ("INKEEP_CONTEXT_FETCH_TIMEOUT_S", "context_fetch_timeout_s"),
)
_STRINGS = (
    ("INKEEP_HOST", "host"),
    ("INKEEP_DEFAULT_MODEL", "default_model"),
    ("INKEEP_DATABASE_URL", "database_url"),
    ("INKEEP_ADMIN_TOKEN", "admin_token"),
    ("NANGO_SERVER_URL", "nango_base_url"),
    ("NANGO_SECRET_KEY", "nango_secret_key"),
    ("INKEEP_PUBLIC_URL", "public_url"),
)


def _number(raw: str, kind: type[int] | type[float]) -> int | float | None:
    try:
        return kind(raw)
    except ValueError:
        return None


def _from_environ(environ: Mapping[str, str], problems: list[str]) -> dict[str, object]:
    """Settings values named by `INKEEP_*` variables; malformed ones are added to `problems`."""
    values: dict[str, object] = {attr: environ[key] for key, attr in _STRINGS if environ.get(key)}
    for key, attr, low, high in _INTEGERS:
        if raw := environ.get(key):
            number = _number(raw, int)
            if number is None or not low <= number <= high:
                problems.append(f"{key}={raw!r} is not an integer in {low}..{high}.")
            else:
                values[attr] = number
    for key, attr in _SECONDS:
        if raw := environ.get(key):
            seconds = _number(raw, float)
            if seconds is None or not 0 < seconds <= 86_400:
                problems.append(f"{key}={raw!r} is not a number of seconds in (0, 86400].")
            else:
                values[attr] = seconds
    capture = environ.get("INKEEP_QUERY_LOG_CAPTURE_ARGUMENTS", "").lower()
    if capture in {"1", "true", "yes"}:
        values["query_log_capture_arguments"] = True
    elif capture not in {"", "0", "false", "no"}:
        problems.append(f"INKEEP_QUERY_LOG_CAPTURE_ARGUMENTS={capture!r} is not a boolean (use 1/0, true/false).")
    dev = environ.get("INKEEP_DEV", "").lower()
    if dev in {"1", "true", "yes"}:
        values["dev"] = True
    elif dev not in {"", "0", "false", "no"}:
        problems.append(f"INKEEP_DEV={dev!r} is not a boolean (use 1/0, true/false).")
    return values


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the runtime can be configured with."""

    host: str = "127.0.0.1"
    """Address the HTTP server binds (`INKEEP_HOST`)."""
    port: int = 3002
    """Port the HTTP server binds (`INKEEP_PORT`)."""
    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy async URL: `sqlite+aiosqlite:///path` or `postgresql+asyncpg://...` (`INKEEP_DATABASE_URL`)."""
    admin_token: str | None = field(default=None, repr=False)
    """Bearer token required by the CRUD API when set (`INKEEP_ADMIN_TOKEN`)."""
    max_body_bytes: int = 1024 * 1024
    """Largest request body accepted, in bytes (`INKEEP_MAX_BODY_BYTES`)."""
    dev: bool = False
    """Development mode: run API without API keys; loopback only (`INKEEP_DEV`)."""
    graphs_dir: Path | None = None
    """Folder of graph JSON files loaded at start-up into tenant/project `default`."""
    sqlite_busy_timeout_ms: int = 5000
    """How long SQLite waits for a competing writer before failing (`INKEEP_SQLITE_BUSY_TIMEOUT_MS`)."""
    default_model: str | None = None
    """Model used when neither agent nor graph names one (`INKEEP_DEFAULT_MODEL`); unset → offline demo model."""
    llm_timeout_s: float = 120.0
    """Longest wait for the model's first chunk and between chunks (`INKEEP_LLM_TIMEOUT_S`)."""
    tool_timeout_s: float = 60.0
    """Per MCP tool call (`INKEEP_TOOL_TIMEOUT_S`)."""
    run_deadline_s: float = 300.0
    """Longest a whole run may take (`INKEEP_RUN_DEADLINE_S`)."""
    max_transfers: int = 10
    """Default `stopWhen.transferCountIs`."""
    max_steps: int = 12
    """Default `stopWhen.stepCountIs` (model calls per agent turn)."""
    max_delegation_depth: int = 3
    """How deep delegations may nest."""
    max_a2a_hops: int = 5
    """How many A2A hops a chain of servers may make (`x-inkeep-a2a-hops`): stops delegation loops between servers."""
    max_parallel_tools: int = 8
    """Tool calls of one step run concurrently up to this bound."""
    max_messages: int = 200
    """Most messages accepted in one chat request."""
    approval_timeout_s: float = 600.0
    """How long a tool call waits for a human decision before it expires (`INKEEP_APPROVAL_TIMEOUT_S`)."""
    approval_poll_s: float = 1.0
    """How often a waiting run checks for decisions made by other processes and renews its lease."""
    context_fetch_timeout_s: float = 10.0
    """Context-variable fetches without `fetchConfig.timeout` (`INKEEP_CONTEXT_FETCH_TIMEOUT_S`)."""
    context_max_response_bytes: int = 1_000_000
    """Largest context-variable response read (`INKEEP_CONTEXT_MAX_RESPONSE_BYTES`)."""
    query_log_retention_days: int = 30
    """Query logs older than this are deleted (`INKEEP_QUERY_LOG_RETENTION_DAYS`; 0 keeps them forever)."""
    query_log_capture_arguments: bool = False
    """Store tool-call arguments (redacted, truncated) in the query log (`INKEEP_QUERY_LOG_CAPTURE_ARGUMENTS`)."""
    nango_base_url: str = "https://api.nango.dev"
    """Nango server that `nango` credential references are resolved through (`NANGO_SERVER_URL`)."""
    nango_secret_key: str | None = field(default=None, repr=False)
    """Nango secret key; without it `nango` credentials cannot be resolved (`NANGO_SECRET_KEY`)."""
    public_url: str | None = None
    """Base URL browsers reach this server at, e.g. `https://agents.example.com` (`INKEEP_PUBLIC_URL`); the OAuth
    redirect URI is `<public_url>/oauth/callback`. Unset: derived from each request's own URL."""
    environment: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False, hash=False
    )
    """Read-only snapshot of the environment `from_env` was given: `env`/`memory` credential references read it."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: object) -> Settings:
        """Build settings from `INKEEP_*` variables, then apply explicit overrides (CLI flags).

        Raises:
            ConfigError: one or more variables are malformed; every problem is listed.
        """
        problems: list[str] = []
        values = _from_environ(environ, problems)
        values["environment"] = MappingProxyType(dict(environ))
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = replace(cls(), **values)  # type: ignore[arg-type]
        problems.extend(settings.problems())
        if problems:
            raise ConfigError(" ".join(problems))
        return settings

    def problems(self) -> list[str]:
        """List what is wrong with this combination of settings (empty when it is usable)."""
        found: list[str] = []
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            found.append(
                f"Database URL {self.database_url.split('://')[0]!r}:// is not supported; "
                "expected sqlite+aiosqlite:// or postgresql+asyncpg://."
            )
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            found.append(f"INKEEP_PUBLIC_URL={self.public_url!r} is not an http(s) URL.")
        if not is_loopback_host(self.host):
            if self.admin_token is None:
                found.append(
                    f"Refusing to bind {self.host}: the CRUD API would be open to the network. "
                    "Set INKEEP_ADMIN_TOKEN or bind 127.0.0.1."
                )
            if self.dev:
                found.append(f"Refusing --dev on {self.host}: development mode turns off run-API auth; loopback only.")
        return found
