"""OCPP 1.6J adapter: translates each 1.6 message into domain calls and answers in 1.6 words."""
