"""Test fakes: in-memory stand-ins for the stores, run against the same contract tests as the SQL stores."""
