"""Resolve a graph's context for one turn: validate the request context, then fetch or reuse variables.

`ContextService` is what the executor calls:

- `request_context` (in `prepare`, before anything is stored): the request's `requestContext`, or,
  when a continued conversation sends none, the one it sent last; validated against the config's
  `requestContextSchema` (an `InvalidRequest` 400 otherwise).
- `resolve` (at the start of the turn's stream): every variable of the config.
  - `initialization` variables are fetched once per conversation and cached in the database; the
    cached value is reused while the request context and the variable's definition are unchanged
    (Inkeep's resolver cleared the whole cache on every request after the first; we do not).
  - `invocation` variables are fetched on every turn, exactly once per turn.
  - Variables whose templates use other variables wait for them; independent ones are fetched
    concurrently. Concurrent turns that need the same value share one fetch (single-flight).
  - A failed fetch uses the variable's `defaultValue` (null without one), is logged, reported as a
    `ContextFetched` event with the error, and is not cached, so the next turn tries again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import anyio
import httpx

from inkeep_runtime.context.config import REQUEST_CONTEXT, ContextConfigDefinition, ContextVariableDefinition
from inkeep_runtime.context.fetcher import ContextFetcher, ContextFetchError
from inkeep_runtime.context.templates import TemplateRenderer
from inkeep_runtime.context.validation import validate_request_context
from inkeep_runtime.credentials import CredentialResolver
from inkeep_runtime.events import ContextFetched
from inkeep_runtime.store.context_cache import REQUEST_KEY, CachedValue, ContextCacheStore
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Scope

__all__ = ["ContextService", "ResolvedContext"]

logger = logging.getLogger(__name__)

_PLAN_CACHE_SIZE: Final = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedContext:
    """The template variables of a turn and how each context variable was obtained."""

    variables: Mapping[str, Any]
    """`requestContext` and every context variable, by name."""
    events: tuple[ContextFetched, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Outcome:
    value: Any
    is_ok: bool
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """Variables in dependency order: each level only uses variables of earlier levels."""

    levels: tuple[tuple[ContextVariableDefinition, ...], ...]
    cyclic: tuple[ContextVariableDefinition, ...]


class _Flight:
    __slots__ = ("done", "result")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: _Outcome | None = None


class ContextService:
    """Validates request contexts and resolves context variables (one per executor)."""

    def __init__(
        self,
        store: Store,
        *,
        http: httpx.AsyncClient | None = None,
        credentials: CredentialResolver | None = None,
        fetch_timeout_s: float = 10.0,
        max_response_bytes: int = 1_000_000,
    ) -> None:
        self.renderer = TemplateRenderer()
        self._cache = ContextCacheStore(store)
        self._fetcher = ContextFetcher(
            renderer=self.renderer,
            http=http,
            credentials=credentials,
            default_timeout_s=fetch_timeout_s,
            max_response_bytes=max_response_bytes,
        )
        self._flights: dict[str, _Flight] = {}
        self._plans: dict[tuple[str, ...], _Plan] = {}

    async def request_context(
        self,
        scope: Scope,
        config: ContextConfigDefinition | None,
        given: Mapping[str, Any],
        *,
        graph_id: str,
        conversation_id: str | None,
    ) -> Mapping[str, Any]:
        """The request context this turn runs with, validated.

        Raises:
            InvalidRequest: it violates the config's `requestContextSchema` (every field is named).
        """
        if config is None:
            return given
        effective = given
        if not given and conversation_id is not None:
            stored = (await self._cache.read(scope, conversation_id, config.id)).get(REQUEST_KEY)
            if stored is not None and isinstance(stored.value, dict):
                effective = MappingProxyType(stored.value)
        validate_request_context(config, effective, graph_id=graph_id)
        return effective

    async def resolve(
        self,
        scope: Scope,
        config: ContextConfigDefinition | None,
        *,
        conversation_id: str,
        request_context: Mapping[str, Any],
    ) -> ResolvedContext | None:
        """Every variable of `config` for this turn (None without a config: nothing to render)."""
        if config is None:
            return None
        request = json.loads(json.dumps(request_context, default=_plain))
        request_hash = _hash(request)
        cached = await self._cache.read(scope, conversation_id, config.id)
        writes: dict[str, tuple[Any, str, str]] = {}
        stored = cached.get(REQUEST_KEY)
        if request and (stored is None or stored.request_hash != request_hash):
            writes[REQUEST_KEY] = (request, request_hash, "")
        values: dict[str, Any] = {REQUEST_CONTEXT: request}
        events: list[ContextFetched] = []
        plan = self._plan(config)
        turn = _Turn(self, scope, conversation_id, config.id, request_hash, cached)
        for level in plan.levels:
            found: dict[str, tuple[_Outcome, ContextFetched, bool]] = {}
            seen = MappingProxyType(dict(values))
            async with anyio.create_task_group() as group:
                for variable in level:
                    group.start_soon(turn.resolve_one, variable, seen, found)
            for variable in level:
                outcome, event, should_cache = found[variable.key]
                values[variable.key] = outcome.value
                events.append(event)
                if should_cache:
                    writes[variable.key] = (outcome.value, request_hash, variable.definition_hash)
        for variable in plan.cyclic:
            error = f"Context variable '{variable.key}' depends on itself through other variables."
            outcome = self._failed(config.id, variable, error)
            values[variable.key] = outcome.value
            events.append(_event(variable, outcome, cached=False, duration_ms=0.0))
        try:
            await self._cache.write(scope, conversation_id, config.id, writes)
        except Exception:  # the cache only saves fetches: a turn that has its values goes on without it
            logger.warning("could not cache the context of conversation '%s'", conversation_id, exc_info=True)
        return ResolvedContext(variables=MappingProxyType(values), events=tuple(events))

    async def fetch_outcome(
        self, config_id: str, variable: ContextVariableDefinition, seen: Mapping[str, Any]
    ) -> _Outcome:
        """Fetch one variable; a failure becomes its default value (logged)."""
        try:
            value = await self._fetcher.fetch(variable, seen)
        except ContextFetchError as exc:
            return self._failed(config_id, variable, exc.detail)
        except Exception as exc:  # a bug must not fail the turn; the variable falls back like any failure
            logger.warning("context variable '%s' failed unexpectedly", variable.key, exc_info=True)
            return self._failed(config_id, variable, f"Context variable '{variable.key}': {type(exc).__name__}.")
        return _Outcome(value=value, is_ok=True)

    async def single_flight(self, key: str, work: Callable[[], Awaitable[_Outcome]]) -> tuple[_Outcome, bool]:
        """Run `work` once for concurrent callers of the same `key`; True when this caller only waited."""
        while (running := self._flights.get(key)) is not None:
            await running.done.wait()
            if running.result is not None:
                return running.result, True
            # the fetching turn was cancelled: the first waiter to wake fetches, the others wait for it
        flight = _Flight()
        self._flights[key] = flight
        try:
            flight.result = await work()
            return flight.result, False
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
            flight.done.set()

    def _failed(self, config_id: str, variable: ContextVariableDefinition, error: str) -> _Outcome:
        fallback = "its defaultValue" if variable.has_default else "null (it has no defaultValue)"
        logger.warning("context config '%s': %s Using %s.", config_id, error, fallback)
        return _Outcome(value=variable.default_value if variable.has_default else None, is_ok=False, error=error)

    def _plan(self, config: ContextConfigDefinition) -> _Plan:
        signature = (config.id, *(f"{k}:{v.definition_hash}" for k, v in config.variables.items()))
        plan = self._plans.get(signature)
        if plan is None:
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans.clear()
            plan = self._plans[signature] = _order(config.variables, self.renderer)
        return plan


@dataclass(slots=True)
class _Turn:
    """What the variables of one turn share."""

    service: ContextService
    scope: Scope
    conversation_id: str
    config_id: str
    request_hash: str
    cached: Mapping[str, CachedValue]

    async def resolve_one(
        self,
        variable: ContextVariableDefinition,
        seen: Mapping[str, Any],
        found: dict[str, tuple[_Outcome, ContextFetched, bool]],
    ) -> None:
        started = time.perf_counter()
        hit = self.cached.get(variable.key) if variable.trigger == "initialization" else None
        if hit is not None and (hit.request_hash, hit.definition_hash) == (self.request_hash, variable.definition_hash):
            outcome = _Outcome(value=hit.value, is_ok=True)
            found[variable.key] = (outcome, _event(variable, outcome, cached=True, duration_ms=_ms(started)), False)
            return
        parts = (self.scope.key, self.conversation_id, self.config_id, variable.key, self.request_hash)
        key = json.dumps([*parts, variable.trigger, variable.definition_hash])
        outcome, is_shared = await self.service.single_flight(
            key, lambda: self.service.fetch_outcome(self.config_id, variable, seen)
        )
        should_cache = outcome.is_ok and variable.trigger == "initialization" and not is_shared
        event = _event(variable, outcome, cached=is_shared, duration_ms=_ms(started))
        found[variable.key] = (outcome, event, should_cache)


def _order(variables: Mapping[str, ContextVariableDefinition], renderer: TemplateRenderer) -> _Plan:
    """Kahn's algorithm over the variables' template references; what is left over is a cycle."""
    needs: dict[str, set[str]] = {}
    for key, variable in variables.items():
        sources = [variable.fetch.url, *variable.fetch.headers.values(), *_strings(variable.fetch.body)]
        used = set().union(*(renderer.names(source) for source in sources))
        needs[key] = used & set(variables)  # a variable that uses itself is never ready: a cycle
    levels: list[tuple[ContextVariableDefinition, ...]] = []
    done: set[str] = set()
    while True:
        ready = [key for key in variables if key not in done and needs[key] <= done]
        if not ready:
            break
        levels.append(tuple(variables[key] for key in ready))
        done.update(ready)
    return _Plan(levels=tuple(levels), cyclic=tuple(v for k, v in variables.items() if k not in done))


def _strings(value: Any) -> Sequence[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _event(
    variable: ContextVariableDefinition, outcome: _Outcome, *, cached: bool, duration_ms: float
) -> ContextFetched:
    return ContextFetched(
        name=variable.key,
        trigger=variable.trigger,
        cached=cached,
        ok=outcome.is_ok,
        duration_ms=duration_ms,
        error=outcome.error,
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def _plain(value: Any) -> Any:
    """JSON fallback for the read-only mappings of a `RunRequest`."""
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)
