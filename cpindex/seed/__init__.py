"""Deterministic synthetic children, families, organisations and demo accounts."""
