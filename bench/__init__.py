"""Benchmarks for the CSMS; run them as modules (`python -m bench.ocpp_roundtrip`), not under pytest."""
