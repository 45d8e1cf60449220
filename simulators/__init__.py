"""Simulated charge points speaking OCPP 1.6J or 2.0.1 to the CSMS over websockets, alone or in fleets."""
