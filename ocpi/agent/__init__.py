"""The booking Agent API (`/agent/v1`, issue 13 item 2, ADR 0024): client applications search every CPO the
eMSP role roams with, book a connector (OCPI RESERVE_NOW), follow the booking to the charging session and
its CDR, and cancel it. It reads and commands the CPOs only through `ocpi.emsp.network.CpoNetwork`."""
