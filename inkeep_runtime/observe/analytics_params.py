"""Time ranges, buckets and filters of the analytics routes (caylex.md §4, "Shared time parameters").

Definitions, in one place (the route docs repeat them):

- **Durations** (`window`, `frequency`) follow `^\\d+(m|h|d|w|mo)$`: minutes, hours, days, weeks and
  months. A month is 30 days everywhere, so every bucket of a series has the same width and bucketing
  stays integer division.
- **Ranges are half-open**, `[from, to)`: a row that started exactly at `to` is not in the range.
  `from` and `to` (ISO 8601; without an offset they are UTC; sub-millisecond digits are dropped) take
  precedence over `window`: both given is that range, `from` alone runs to now, `to` alone is the
  `window` before it, neither is the `window` before now.
- **Buckets are aligned to the epoch** (1970-01-01T00:00Z), weeks to Monday 00:00 UTC: a bucket's
  `timestamp` is its start, `floor((t - origin) / width)` numbers it, so a row that started exactly on
  a boundary lands in the later bucket. Round timestamps (whole hours, UTC days) make series from
  different requests line up; the price is that the first and last buckets may be partial (the first
  one's `timestamp` can precede `from`), and they still only count rows inside the range.
- A series has at most `MAX_BUCKETS` buckets; every bucket is returned, empty ones too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, NoReturn

from inkeep_runtime.errors import FieldError, InvalidRequest
from inkeep_runtime.store.rows import iso_utc

__all__ = [
    "DURATION_PATTERN",
    "MAX_BUCKETS",
    "MAX_WINDOW_MS",
    "Buckets",
    "Filters",
    "TimeRange",
    "buckets_for",
    "default_buckets",
    "duration_ms",
    "iso_ms",
    "parse_instant_ms",
    "resolve_range",
]

DURATION_PATTERN: Final = r"^\d+(m|h|d|w|mo)$"
MAX_BUCKETS: Final = 1000
"""The most buckets one series may have (caylex.md §4)."""

_MINUTE_MS: Final = 60_000
_DAY_MS: Final = 86_400_000
_UNIT_MS: Final[dict[str, int]] = {
    "m": _MINUTE_MS,
    "h": 60 * _MINUTE_MS,
    "d": _DAY_MS,
    "w": 7 * _DAY_MS,
    "mo": 30 * _DAY_MS,
}
MAX_WINDOW_MS: Final = 3650 * _DAY_MS
"""The longest `window` accepted (about ten years)."""
_MONDAY_OFFSET_MS: Final = 4 * _DAY_MS
"""1970-01-05, the first Monday after the epoch: where week-multiple buckets start."""
_DURATION_RE: Final = re.compile(r"^(\d+)(mo|m|h|d|w)$")
_DEFAULT_FREQUENCIES: Final = ("1h", "1d", "1w", "1mo")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def duration_ms(text: str) -> int:
    """The length of a duration such as `15m`, `24h`, `7d`, `2w` or `3mo`, in milliseconds.

    Raises:
        ValueError: `text` does not follow `DURATION_PATTERN` or is zero.
    """
    match = _DURATION_RE.match(text)
    if match is None:
        msg = f"Expected a duration like 15m, 24h, 7d, 2w or 3mo (pattern {DURATION_PATTERN}), got {text!r}."
        raise ValueError(msg)
    length = int(match.group(1)) * _UNIT_MS[match.group(2)]
    if length <= 0:
        msg = f"Expected a positive duration, got {text!r}."
        raise ValueError(msg)
    return length


def parse_instant_ms(text: str) -> int:
    """An ISO-8601 date or date-time as epoch milliseconds (UTC when no offset is given).

    Raises:
        ValueError: `text` is not ISO 8601.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        msg = f"Expected an ISO-8601 date-time such as 2026-01-31T12:00:00Z, got {text!r}."
        raise ValueError(msg) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with milliseconds and a `Z` (the form every API timestamp has)."""
    return iso_utc(_EPOCH + timedelta(milliseconds=epoch_ms))


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeRange:
    """The half-open range `[start_ms, end_ms)` a request covers."""

    start_ms: int
    end_ms: int
    window: str | None
    """The `window` the range came from, or None when `from`/`to` gave it."""

    @property
    def length_ms(self) -> int:
        """How long the range is."""
        return self.end_ms - self.start_ms

    def previous(self) -> TimeRange:
        """The range of the same length right before this one (for `compare=previous`)."""
        return TimeRange(start_ms=self.start_ms - self.length_ms, end_ms=self.start_ms, window=self.window)


def _reject(parameter: str, message: str) -> NoReturn:
    """Raise the 400 problem for one bad query parameter."""
    detail = f"Invalid query parameter {parameter}: {message}"
    raise InvalidRequest(detail, [FieldError(f"query.{parameter}", message)])


def resolve_range(*, window: str, start: str | None, end: str | None, now_ms: int) -> TimeRange:
    """The range named by `window`, `from` (`start`) and `to` (`end`); see the module docstring.

    Raises:
        InvalidRequest: a value does not parse, the window is too long, or `from` is not before `to`.
    """
    try:
        length = duration_ms(window)
    except ValueError as exc:
        _reject("window", str(exc))
    if length > MAX_WINDOW_MS:
        _reject("window", f"Expected at most 3650d, got {window!r}.")
    bounds: dict[str, int] = {}
    for name, text in (("from", start), ("to", end)):
        if text is not None:
            try:
                bounds[name] = parse_instant_ms(text)
            except ValueError as exc:
                _reject(name, str(exc))
    end_ms = bounds.get("to", now_ms)
    start_ms = bounds.get("from", end_ms - length)
    if start_ms >= end_ms:
        _reject("from", f"Expected a time before to ({iso_ms(end_ms)}), got {iso_ms(start_ms)}.")
    return TimeRange(start_ms=start_ms, end_ms=end_ms, window=None if "from" in bounds else window)


@dataclass(frozen=True, slots=True, kw_only=True)
class Buckets:
    """Fixed-width buckets covering a range: bucket `i` starts at `origin_ms + i * width_ms`."""

    frequency: str
    width_ms: int
    origin_ms: int
    """The start of the bucket that holds the range's first millisecond."""
    count: int

    def starts(self) -> list[int]:
        """Every bucket's start, in order."""
        return [self.origin_ms + index * self.width_ms for index in range(self.count)]


def _aligned(span: TimeRange, frequency: str, width_ms: int) -> Buckets:
    offset = _MONDAY_OFFSET_MS if width_ms % (7 * _DAY_MS) == 0 else 0
    origin = span.start_ms - (span.start_ms - offset) % width_ms
    count = (span.end_ms - 1 - origin) // width_ms + 1
    return Buckets(frequency=frequency, width_ms=width_ms, origin_ms=origin, count=count)


def buckets_for(span: TimeRange, frequency: str) -> Buckets:
    """The buckets of `frequency` over `span`.

    Raises:
        InvalidRequest: `frequency` does not parse, or gives more than `MAX_BUCKETS` buckets.
    """
    try:
        width = duration_ms(frequency)
    except ValueError as exc:
        _reject("frequency", str(exc))
    if width > MAX_WINDOW_MS:
        _reject("frequency", f"Expected at most 3650d, got {frequency!r}.")
    buckets = _aligned(span, frequency, width)
    if buckets.count > MAX_BUCKETS:
        message = (
            f"Frequency {frequency!r} gives {buckets.count} buckets over this range; at most {MAX_BUCKETS} are "
            "allowed: choose a larger frequency or a shorter range."
        )
        _reject("frequency", message)
    return buckets


def default_buckets(span: TimeRange) -> Buckets:
    """Hourly buckets, or the first of daily, weekly and 30-day ones that keeps within `MAX_BUCKETS`."""
    for frequency in _DEFAULT_FREQUENCIES:
        buckets = _aligned(span, frequency, duration_ms(frequency))
        if buckets.count <= MAX_BUCKETS:
            return buckets
    return buckets_for(span, _DEFAULT_FREQUENCIES[-1])  # a window of at most ten years always fits; kept for safety


@dataclass(frozen=True, slots=True, kw_only=True)
class Filters:
    """The shared filters (caylex.md §4); None means not filtered.

    What each one selects depends on the rows being counted:

    | filter | queries | tool calls | steps |
    |---|---|---|---|
    | `graph_id` | of the graph | of the graph | of the graph |
    | `agent_id` | the agent entered or ran a step in them | made by the agent | by the agent |
    | `tool_id` | they called a tool of that MCP server | to that server | (not filtered) |
    | `tool_name` | they called a tool of that name | of that name | (not filtered) |
    | `status` | ended `success`, `error` or `cancelled` | made in queries that ended so | (not filtered) |
    """

    graph_id: str | None = None
    agent_id: str | None = None
    tool_id: str | None = None
    tool_name: str | None = None
    status: str | None = None

    def applied(self) -> dict[str, str]:
        """The filters in use, by wire name (echoed back in every response)."""
        names = {
            "graphId": self.graph_id,
            "agentId": self.agent_id,
            "toolId": self.tool_id,
            "toolName": self.tool_name,
            "status": self.status,
        }
        return {name: value for name, value in names.items() if value is not None}
