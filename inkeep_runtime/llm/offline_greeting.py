"""The offline demo model's greeting: it greets the customer by name before handing them over.

When the agent's instructions name the customer (`The customer is <name> (plan: <plan>)`, as the example
graph's router renders them from its context config), the demo model says hello before it transfers,
so the profile the context config fetched is visible in the answer, not only in the prompt.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["greeting"]

_CUSTOMER: Final = re.compile(r"\bThe customer is (?P<name>[^(\n.;]+?)\s*\(plan: (?P<plan>[^)\n]+)\)")


def greeting(system_text: str, marker: str) -> str | None:
    """`<marker> Hello <name> (<plan> plan)! ...` when the instructions name the customer, else None."""
    found = _CUSTOMER.search(system_text)
    if found is None or not found["name"].strip() or found["name"].strip() in {"None", "null"}:
        return None
    return f"{marker} Hello {found['name'].strip()} ({found['plan'].strip()} plan)! Let me find the right specialist."
