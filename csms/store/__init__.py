"""Persistence: narrow store protocols, the SQLAlchemy and in-memory implementations, the batched writer."""
