"""The human-readable table of one bench run."""

from __future__ import annotations

from typing import Any

__all__ = ["render"]


def _row(figure: str, value: str, note: str = "") -> tuple[str, str, str]:
    return figure, value, note


def _busy(level: dict[str, Any]) -> str:
    return ", ".join(f"{name} {pct}%" for name, pct in level["cpu_percent"].items())


def _ramp_rows(ramp: dict[str, Any]) -> list[tuple[str, str, str]]:
    best, levels = ramp["max_streams"], ramp["levels"]
    first = levels[0]["streams"] if levels else 0
    value = f">= {best}" if ramp["is_capped_by_levels"] else str(best) if best else f"< {first}"
    note = f"{ramp['rate']:g} tok/s each, {ramp['tokens']} tok; gap p50 / p99 ms, runtime vs direct control"
    rows = [_row(f"max streams, p99 gap < {ramp['budget_ms']:g} ms", value, note)]
    for level in levels:
        control = level["control"]
        failures = f"{level['failures']} failed; " if level["failures"] else ""
        rows.append(
            _row(
                f"  {level['streams']} streams ({'ok' if level['is_ok'] else 'over'})",
                f"{level['gap_p50_ms']:.1f} / {level['gap_p99_ms']:.1f} vs {control['gap_p50_ms']:.1f} / "
                f"{control['gap_p99_ms']:.1f}",
                f"{failures}max {level['gap_max_ms']:.0f} ms; CPU {_busy(level)}",
            )
        )
    return rows


def render(results: dict[str, Any]) -> str:
    """The results as an aligned text table."""
    ttft, cpu, rss, startup = results["ttft"], results["cpu"], results["rss"], results["startup"]
    runtime, relay = cpu["runtime"], cpu["relay"]
    ratio = f"{cpu['ratio']:.1f}x" if cpu["ratio"] else "n/a"
    paced_ratio = f"{cpu['paced_ratio']:.1f}x" if cpu["paced_ratio"] else "n/a"
    workload = f"saturated: {cpu['streams']} streams x {cpu['tokens']} tok at {cpu['rate']:g} tok/s each"
    paced = f"paced: {cpu['streams']} streams x {cpu['paced_tokens']} tok at {cpu['paced_rate']:g} tok/s each"
    rows = [
        _row(
            "added TTFT p50 / p99",
            f"{ttft['runtime_added_p50_ms']:.2f} / {ttft['runtime_added_p99_ms']:.2f} ms",
            f"runtime {ttft['runtime_p50_ms']:.2f} / {ttft['runtime_p99_ms']:.2f} ms, "
            f"direct {ttft['direct_p50_ms']:.2f} / {ttft['direct_p99_ms']:.2f} ms; {ttft['requests']} sequential",
        ),
        _row(
            "  relay added TTFT p50 / p99",
            f"{ttft['relay_added_p50_ms']:.2f} / {ttft['relay_added_p99_ms']:.2f} ms",
            f"{ttft['errors']} errors" if ttft["errors"] else "",
        ),
        _row("CPU per streamed token, runtime", f"{runtime['cpu_us_per_token']:.1f} µs", workload),
        _row("CPU per streamed token, raw relay", f"{relay['cpu_us_per_token']:.1f} µs", "same workload"),
        _row("  ratio runtime / relay", ratio, "goal for later tuning: <= 3x"),
        _row(
            "  runtime marginal / fixed",
            f"{runtime['marginal_us_per_token']:.1f} µs/tok",
            f"+ {runtime['fixed_ms_per_stream']:.2f} ms per stream (from a 1/10-length run)",
        ),
        _row(
            "  relay marginal / fixed",
            f"{relay['marginal_us_per_token']:.1f} µs/tok",
            f"+ {relay['fixed_ms_per_stream']:.2f} ms per stream",
        ),
        _row(
            "CPU per token, paced, runtime / relay",
            f"{runtime['paced_cpu_us_per_token']:.1f} / {relay['paced_cpu_us_per_token']:.1f} µs",
            f"ratio {paced_ratio}; {paced}",
        ),
        *_ramp_rows(results["ramp"]),
        _row(
            "RSS per open stream, runtime",
            f"{rss['runtime']['kib_per_stream']:.1f} KiB",
            f"{rss['runtime']['open_at_sample']} open; idle {rss['runtime']['idle_rss_mib']:.1f} MiB"
            f" → {rss['runtime']['loaded_rss_mib']:.1f} MiB",
        ),
        _row(
            "RSS per open stream, raw relay",
            f"{rss['relay']['kib_per_stream']:.1f} KiB",
            f"idle {rss['relay']['idle_rss_mib']:.1f} MiB → {rss['relay']['loaded_rss_mib']:.1f} MiB",
        ),
        _row(
            "start-up to /health 200, runtime",
            f"{startup['runtime_s']:.2f} s",
            f"median of {len(startup['runtime_all_s'])}; relay {startup['relay_s']:.2f} s",
        ),
    ]
    for name, figures in (("runtime", runtime), ("relay", relay)):
        if figures["errors"]:
            rows.append(_row(f"  CPU workload errors ({name})", str(figures["errors"]), figures["first_error"][0][:80]))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    env = results["environment"]
    lines = [
        f"inkeep_runtime bench ({results['mode']}, {results['bench_wall_s']:.0f} s) — Python {env['python']}, "
        f"{env['cpus']} CPUs; pinning: {env['pinning']}; load generator: {env['load_generator']}",
        f"machine: load average {env['load_avg_1m_at_start']:g} at start, {env['steal_percent']:g}% CPU stolen by the"
        " hypervisor during the run (noisy neighbours make every figure worse)",
        "",
        f"{'figure':<{widths[0]}}  {'value':<{widths[1]}}  notes",
        f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * 5}",
    ]
    lines += [f"{figure:<{widths[0]}}  {value:<{widths[1]}}  {note}".rstrip() for figure, value, note in rows]
    return "\n".join(lines)
