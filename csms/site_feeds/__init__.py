"""Per-site HTTP feeds the CSMS polls: energy forecasts (`[energy] forecast_url`) and solar meters
(`[solar] meter_url`). An edge like the store or the OCPP server: it reads the outside world and hands the
domain what it read; `poller.SiteFeed` is the loop both share."""
