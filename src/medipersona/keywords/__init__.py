"""Keyword data: import, store, lookups, timeline analysis and chart."""
