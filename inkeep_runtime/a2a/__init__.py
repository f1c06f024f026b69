"""A2A: agent cards and the JSON-RPC server for our graphs, and the client for external agents."""
