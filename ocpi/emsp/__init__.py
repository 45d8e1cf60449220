"""OCPI 2.2.1 eMSP role: registering with CPOs, their cached data and pushes, our tokens, commands."""
