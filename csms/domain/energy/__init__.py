"""Tariff- and carbon-aware charging: EV needs, per-site forecasts, the schedule optimizer and its planner."""
