"""Commune Monitor collector: MQTT -> validation -> InfluxDB, acks to the agents, its own metrics.

Alerts (Alertmanager) and the monthly readiness report are planned and not built yet."""
