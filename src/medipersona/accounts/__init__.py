"""Accounts: users, roles, sections, sessions, CSRF, login throttling, API tokens."""
