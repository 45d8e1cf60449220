"""The operator dashboard: server-rendered pages under `/ui` with a live server-sent-event channel."""
