"""Tests of the pricing engine (csms/domain/pricing): the hand-computed case table and property tests."""
