"""OCPI 2.2.1 bridge (CPO role) on the CSMS domain core: versions, credentials, locations, sessions, CDRs,
tariffs (sender) and tokens, commands (receiver), with a durable push outbox."""
