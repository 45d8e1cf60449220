"""OCPP 2.0.1 adapter: translates each 2.0.1 message into domain calls and answers in 2.0.1 words."""
