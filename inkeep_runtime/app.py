"""Application assembly: the only module that wires the layers together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio
import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from inkeep_runtime.a2a.client import A2AClient
from inkeep_runtime.a2a.server import A2AServer
from inkeep_runtime.agent.approvals import ApprovalBroker
from inkeep_runtime.credentials import CredentialResolver
from inkeep_runtime.errors import InkeepError, MethodNotAllowed, NotFound, RequestError
from inkeep_runtime.graph.contract import Runner
from inkeep_runtime.graph.executor import GraphExecutor
from inkeep_runtime.http.auth import ApiKeyVerifier
from inkeep_runtime.http.chat import chat_endpoints
from inkeep_runtime.http.data_stream import data_stream_endpoints
from inkeep_runtime.http.endpoint import Endpoint, to_routes
from inkeep_runtime.http.middleware import AdminAuthMiddleware, RequestIdMiddleware
from inkeep_runtime.http.openapi import build_openapi
from inkeep_runtime.http.problems import problem_response
from inkeep_runtime.http.tool_approvals import tool_approval_endpoints
from inkeep_runtime.llm.client import LiteLLMClient, LLMClient
from inkeep_runtime.llm.offline import OfflineModelClient
from inkeep_runtime.manage import manage_endpoints
from inkeep_runtime.manage.graph_files import load_graph_dir
from inkeep_runtime.mcp.pool import McpPool
from inkeep_runtime.oauth.tokens import OAuthTokens
from inkeep_runtime.observe.otel import TracingMiddleware, capture_content, tracer_of, tracer_provider_from_env
from inkeep_runtime.observe.recording import RecordingRunner
from inkeep_runtime.observe.tracing import TracingRunner
from inkeep_runtime.observe.writer import QueryLogWriter
from inkeep_runtime.settings import Settings
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.migrations import migrate
from inkeep_runtime.store.rows import Scope

__all__ = ["Services", "create_app", "package_version"]

logger = logging.getLogger(__name__)


def startup_banner(settings: Settings, graphs: list[str]) -> str:
    """What the operator sees once the server is ready: where it is and what to call next."""
    base = f"http://{settings.host}:{settings.port}"
    admin = ' -H "Authorization: Bearer $INKEEP_ADMIN_TOKEN"' if settings.admin_token else ""
    graph = graphs[0] if graphs else "<graphId>"
    crud = f"{base}/tenants/default/crud/projects/default"
    chat = f"{base}/tenants/default/projects/default/graphs/{graph}/v1/chat/completions"
    key_step = (
        "    # --dev: the run API needs no key"
        if settings.dev
        else f"    KEY=$(curl -s{admin} -X POST {crud}/api-keys -H 'Content-Type: application/json' "
        f'-d \'{{"graphId": "{graph}"}}\' | python3 -c \'import json,sys; print(json.load(sys.stdin)["data"]["key"])\')'
    )
    auth = "" if settings.dev else ' -H "Authorization: Bearer $KEY"'
    model = (
        settings.default_model or "the offline demo model (set INKEEP_DEFAULT_MODEL and a provider key for a real one)"
    )
    lines = [
        f"inkeep-runtime {package_version()} serving on {base} (database: {settings.database_url.split('://')[0]})",
        f"  graphs loaded into tenant 'default', project 'default': {', '.join(graphs) or 'none'}",
        f"  default model: {model}",
        "  next:",
        f"    curl{admin} {crud}/agent-graphs",
        key_step,
        f"    curl -N {chat}{auth} -H 'Content-Type: application/json' -H 'x-emit-operations: true' "
        '-d \'{"model": "any", "stream": true, "requestContext": {"userId": "ada"}, '
        '"messages": [{"role": "user", "content": "Hello"}]}\'',
        f"    open {base}/openapi.json for every route",
    ]
    if settings.dev:
        lines.append("  --dev: run-API auth is OFF (loopback only). Never use --dev in production.")
    return "\n".join(lines)


def package_version() -> str:
    """The installed package version."""
    try:
        return version("inkeep-runtime")
    except PackageNotFoundError:  # running from a source tree
        return "0.0.0"


@dataclass(slots=True)
class Services:
    """What handlers reach through `Call.services`."""

    settings: Settings
    store: Store
    verifier: ApiKeyVerifier
    llm: LLMClient
    mcp: McpPool
    http: httpx.AsyncClient
    """Outbound HTTP (credential stores); closed with the app."""
    runner: Runner | None = None
    """The graph executor (set when the app starts)."""
    credentials: CredentialResolver | None = None
    """Resolves credential references (env, memory, nango, oauth); set by `create_app`."""
    approvals: ApprovalBroker | None = None
    """Tool-call approvals (`agent/approvals.py`); set by `create_app`."""
    tracer: Tracer = field(default_factory=lambda: tracer_of(None))
    """OpenTelemetry tracer (a no-op one unless `OTEL_*` variables or the caller configure tracing)."""
    capture_content: bool = False
    """Spans may carry tool arguments and messages (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`)."""
    query_log: QueryLogWriter | None = None
    """The query-log write queue (set with the default runner, which records every run through it)."""
    definitions_version: dict[str, int] = field(default_factory=dict)
    """Per-scope counter bumped on every definition write (runnable-graph caches key on it)."""

    def changed(self, scope: Scope) -> None:
        """Record that definitions in `scope` changed."""
        self.definitions_version[scope.key] = self.definitions_version.get(scope.key, 0) + 1


async def on_http_error(request: Request, exc: Exception) -> Response:
    """Render Starlette's routing errors (404, 405) as problem JSON."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return problem_response(request, NotFound(f"No route matches {request.method} {request.url.path}."))
    if exc.status_code == 405:
        error = MethodNotAllowed(f"Method {request.method} is not allowed on {request.url.path}.")
        response = problem_response(request, error)
        response.headers.update(exc.headers or {})
        return response
    return problem_response(request, RequestError(str(exc.detail)))


def _services(
    settings: Settings,
    store: Store | None,
    llm: LLMClient | None,
    runner: Runner | None,
    tracer_provider: TracerProvider | None,
) -> Services:
    opened = store or Store.open(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    services = Services(
        settings=settings,
        store=opened,
        verifier=ApiKeyVerifier(opened),
        llm=llm or LiteLLMClient(timeout_s=settings.llm_timeout_s),
        mcp=McpPool(),
        http=httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)),
        runner=runner,
        tracer=tracer_of(tracer_provider),
        capture_content=capture_content(settings.environment),
    )
    services.approvals = ApprovalBroker(opened, timeout_s=settings.approval_timeout_s, poll_s=settings.approval_poll_s)
    services.credentials = CredentialResolver.from_settings(
        settings, http=services.http, oauth=OAuthTokens(opened, services.http)
    )
    if services.runner is None:
        services.runner = GraphExecutor(
            store=opened,
            llm=services.llm,
            offline_llm=OfflineModelClient(),
            mcp=services.mcp,
            settings=settings,
            version_of=lambda key: services.definitions_version.get(key, 0),
            credentials=services.credentials,
            a2a=A2AClient(http=services.http, timeout_s=settings.tool_timeout_s),
            http=services.http,
            approvals=services.approvals,
        )
        services.approvals.host = services.runner
        services.query_log = QueryLogWriter(opened, retention_days=settings.query_log_retention_days)
        services.runner = RecordingRunner(
            services.runner, services.query_log, capture_arguments=settings.query_log_capture_arguments
        )
        if tracer_provider is not None:  # tracing off: no per-event cost at all
            services.runner = TracingRunner(services.runner, services.tracer, capture=services.capture_content)
    return services


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    llm: LLMClient | None = None,
    runner: Runner | None = None,
    run_migrations: bool = True,
    announce: bool = False,
    tracer_provider: TracerProvider | None = None,
) -> Starlette:
    """Build the ASGI app.

    Args:
        settings: runtime configuration.
        store: an open store to use (tests); by default one is opened from `settings.database_url`.
        llm: the model client; by default litellm, warmed at start-up.
        runner: the executor behind the run API; by default the graph executor.
        run_migrations: apply pending migrations at start-up.
        announce: print where the server is and what to call next once it is ready (the CLI does).
        tracer_provider: where spans go; by default from the `OTEL_*` variables (none: tracing off).
            A provider the caller passes is the caller's to shut down.
    """
    owned_provider = tracer_provider_from_env(settings.environment) if tracer_provider is None else None
    services = _services(settings, store, llm, runner, tracer_provider or owned_provider)
    a2a_server = A2AServer(services)
    endpoints: list[Endpoint] = [
        *manage_endpoints(),
        *chat_endpoints(),
        *data_stream_endpoints(),
        *tool_approval_endpoints(),
        *a2a_server.endpoints(),
    ]
    openapi: dict[str, Any] = {}

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def openapi_json(_request: Request) -> Response:
        if not openapi:  # built on first use: it costs ~0.1 s and most processes never serve it
            openapi.update(build_openapi(endpoints, title="Inkeep Runtime API", version=package_version()))
        return JSONResponse(openapi)

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *to_routes(endpoints, services, body_limit=settings.max_body_bytes),
    ]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if run_migrations:
            await migrate(services.store.engine)
        if services.approvals is not None:  # approvals that expired while no process was running
            await services.approvals.rows.expire_overdue()
        loaded: list[str] = []
        if settings.graphs_dir is not None:
            loaded = await load_graph_dir(services.store, Scope("default", "default"), settings.graphs_dir)
        if isinstance(services.llm, LiteLLMClient):
            await services.llm.warm()
        try:
            query_log = services.query_log.running() if services.query_log is not None else nullcontext()
            async with services.mcp, a2a_server.running(), query_log:
                if announce:
                    print(startup_banner(settings, loaded), flush=True)
                yield {"services": services}
        finally:
            await services.http.aclose()
            if owned_provider is not None:
                await anyio.to_thread.run_sync(owned_provider.shutdown)  # flushes the batch processors
            if store is None:
                await services.store.close()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(TracingMiddleware, tracer=services.tracer),
            Middleware(RequestIdMiddleware),
            Middleware(AdminAuthMiddleware, token=settings.admin_token),
        ],
        exception_handlers={
            InkeepError: problem_response,
            HTTPException: on_http_error,
            Exception: problem_response,
        },
    )
    app.state.services = services
    return app
