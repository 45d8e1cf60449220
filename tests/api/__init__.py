"""Tests of the operator REST API (`csms.api`)."""
