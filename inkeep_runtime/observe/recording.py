"""`RecordingRunner`: the seam through which every run is query-logged.

It wraps the app's `Runner` (the graph executor), so every run admitted anywhere (`/v1/chat/completions`,
`/api/chat`, A2A) is recorded without the endpoints knowing: `stream` feeds each event to a
`QueryRecorder` as it passes through, installs the recorder as the run's `observer` (to see delegated
agents), and when the stream ends, for whatever reason, hands the finished record to the
`QueryLogWriter`. A stream that ends without `RunCompleted` or `RunFailed` was cancelled (the client
went away) and is recorded as `cancelled`. `prepare` is passed through: a request refused before its
run starts is an HTTP error, not a query.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from inkeep_runtime.events import Problem, RunEvent, RunFailed
from inkeep_runtime.graph.contract import PreparedRun, Runner, RunTarget
from inkeep_runtime.observe.querylog import QueryRecorder
from inkeep_runtime.observe.writer import QueryLogWriter
from inkeep_runtime.protocols.requests import RunRequest

__all__ = ["RecordingRunner"]

logger = logging.getLogger(__name__)


class RecordingRunner:
    """A `Runner` that query-logs every run of the runner it wraps."""

    def __init__(self, inner: Runner, writer: QueryLogWriter, *, capture_arguments: bool = False) -> None:
        self.inner = inner
        """The wrapped runner."""
        self._writer = writer
        self._capture_arguments = capture_arguments

    async def prepare(self, target: RunTarget, request: RunRequest) -> PreparedRun:
        """See `Runner.prepare` (nothing is recorded for a run that never starts)."""
        return await self.inner.prepare(target, request)

    async def stream(self, prepared: PreparedRun) -> AsyncIterator[RunEvent]:
        """See `Runner.stream`; the run is recorded when its stream ends, however it ends."""
        recorder = QueryRecorder(prepared, capture_arguments=self._capture_arguments)
        observed = prepared.observed_by(recorder.observe_delegated)
        events = self.inner.stream(observed)
        try:
            async for event in events:
                recorder.observe(event)
                yield event
        except Exception as exc:  # outside the contract (runs end in RunFailed), but record it as a failure
            problem = Problem(code="internal_server_error", title="Internal Server Error", status=500, detail=str(exc))
            recorder.observe(RunFailed(problem=problem))
            raise
        finally:
            try:
                self._writer.submit(recorder.finish())
            except Exception:  # recording must never break a run
                logger.exception("could not record run %s", prepared.run_id)
            aclose = getattr(events, "aclose", None)
            if aclose is not None:  # the executor stores the partial answer in its own (shielded) finally
                await aclose()
