"""Observability: query logs, analytics and OpenTelemetry traces of runs."""
