"""The demo MCP server of graphs/customer-support.json: service status and diagnostics tools.

`make serve` starts it on http://127.0.0.1:3011/mcp next to the runtime. Run it alone with:

    .venv/bin/python examples/support_tools_mcp.py --port 3011
"""

from __future__ import annotations

import argparse
import hashlib

from mcp.server.mcpserver import MCPServer

SERVICES = {
    "api": "operational",
    "dashboard": "operational",
    "billing": "degraded: invoices are delayed by about 30 minutes",
    "search": "operational",
    "webhooks": "partial outage: retries are queued",
}

server = MCPServer("support-tools", version="1.0.0")


@server.tool()
def check_service_status(service: str) -> str:
    """Current status of one of our services (api, dashboard, billing, search, webhooks)."""
    key = service.strip().lower()
    for name, status in SERVICES.items():
        if name in key:
            return f"{name}: {status}"
    listing = "; ".join(f"{name}: {status}" for name, status in SERVICES.items())
    return f"No service named {service!r}. All services: {listing}"


@server.tool()
def run_diagnostics(problem: str) -> str:
    """Run automated diagnostics for a described technical problem and suggest next steps."""
    ticket = hashlib.sha256(problem.encode()).hexdigest()[:8].upper()
    hints = []
    text = problem.lower()
    if "timeout" in text or "slow" in text:
        hints.append("latency is within normal range; check the client's network and retry with backoff")
    if "401" in text or "auth" in text or "login" in text:
        hints.append("the API key may be expired; create a new one in the dashboard")
    if "webhook" in text:
        hints.append("webhook deliveries are retried; see the status page")
    if not hints:
        hints.append("no known issue matched; collect logs and the request id for an engineer")
    return f"Diagnostics ticket DIAG-{ticket}: " + "; ".join(hints) + "."


def main() -> None:
    """Serve over streamable HTTP at /mcp."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3011)
    args = parser.parse_args()
    server.run("streamable-http", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
