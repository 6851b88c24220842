"""Commune Monitor collector: MQTT -> validation -> InfluxDB, alerts, reports."""
