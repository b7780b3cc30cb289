"""Accounts, password and TOTP checks, and bearer sessions."""
