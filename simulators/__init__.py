"""Charge point simulators that speak OCPP 1.6J and 2.0.1 to the CSMS over real websockets, alone or as a fleet."""
