"""Webhooks: domain events turned into signed HTTP deliveries through a durable outbox (ADR 0011)."""
