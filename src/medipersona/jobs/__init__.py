"""Durable jobs in the database: leases, heartbeats, events for SSE."""
