"""A real MCP server for tests (see fake_mcp.py)."""
