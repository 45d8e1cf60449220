"""OCPI 2.2.1 bridge (CPO role) on the CSMS domain core; its modules arrive with the OCPI issue."""
