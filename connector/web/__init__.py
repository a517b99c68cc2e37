"""The HTTP side of the daemon: webhooks, the JSON API, health, metrics and the dashboard."""
