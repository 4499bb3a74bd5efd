"""Accounts: users, sessions' records, principals and the audit log."""
