"""Tests of the MCP client boundary and pool."""
