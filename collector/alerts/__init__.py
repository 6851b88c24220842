"""Alert rules, calendar, correlation and state: the collector's side of alerting (delivery is Alertmanager)."""
