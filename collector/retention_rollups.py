"""What the rollups keep: the policies, each measurement's fields and aggregates, and the continuous queries.

Two families (collector/retention.py creates both, docs/dashboards.md explains the choice):

- **Per-agent** rollups ``rp_1m`` / ``rp_1h``: ``GROUP BY time(...), *`` keeps every tag, agent included.
  The commune detail dashboard and the monthly report read them.
- **Site-level** rollups ``rp_site_1m`` / ``rp_site_1h``: the same measurement and field names, grouped by
  the identity tags down to the site (province, commune, commune_name, site) and the measurement's target
  tags (``SITE_ROLLUPS``), without ``agent`` and the other per-PC tags. Their size depends on the number of
  sites, not of PCs per site; the province-wide dashboards read them. Each is computed from the per-agent
  rollup of the same resolution, so a site's value is over its PCs with each PC weighted once: the mean of
  the PCs' ``ok`` is the site's availability; a max stays a max, a min a min.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.retention_config import RetentionSection

MINUTE_RP = "rp_1m"
HOUR_RP = "rp_1h"
SITE_MINUTE_RP = "rp_site_1m"
SITE_HOUR_RP = "rp_site_1h"
META_RP = "cm_meta"

# measurement -> fields kept in the rollups, each with its aggregate (stored under the same field name).
# mean for levels and ratios (mean of ``ok`` is availability), max for counters and flags that must not be
# averaged away (a reboot, a drop counter).
ROLLUPS: dict[str, dict[str, str]] = {
    "ping": {"ok": "mean", "loss_percent": "mean", "rtt_avg_ms": "mean", "rtt_median_ms": "mean",
             "rtt_max_ms": "max", "jitter_ms": "mean"},
    "http": {"ok": "mean", "total_ms": "mean", "dns_ms": "mean", "connect_ms": "mean", "tls_ms": "mean",
             "processing_ms": "mean", "transfer_ms": "mean", "first_byte_ms": "mean", "tls_days_left": "min",
             "slow": "max"},
    "dns": {"ok": "mean", "lookup_ms": "mean"},
    "tcp": {"ok": "mean", "connect_ms": "mean"},
    "uplink": {"ok": "mean", "echo_ms": "mean", "links_configured": "max"},
    "host": {"cpu_percent": "mean", "mem_percent": "mean", "uptime_s": "max"},
    "host_disk": {"percent": "mean"},
    "host_net": {"rx_bps": "mean", "tx_bps": "mean", "up": "min"},
    "snmp_device": {"ok": "mean", "uptime_s": "max", "rebooted": "max", "cpu_percent": "mean",
                    "mem_percent": "mean", "interfaces": "max", "interfaces_up": "min", "uplink_up": "min",
                    "uplink_in_util_percent": "mean", "uplink_out_util_percent": "mean"},
    "snmp_interface": {"in_bps": "mean", "out_bps": "mean", "in_util_percent": "mean",
                       "out_util_percent": "mean", "in_errors_per_s": "mean", "out_errors_per_s": "mean",
                       "oper_up": "min", "admin_up": "min"},
    "token_module": {"ok": "mean", "loaded": "min", "tokens": "min"},
    "token": {"ok": "mean", "present": "min", "certificates": "min"},
    "token_cert": {"days_left": "min", "expired": "max"},
    "agent": {"queue_depth": "max", "queue_dropped_total": "max", "connected": "min", "clock_offset_ms": "mean"},
    "agent_status": {"online": "min"},
    "agent_clock": {"offset_ms": "mean", "skewed": "max"},
    # alert history (one point per resolved alert): kept for the monthly report beyond the raw retention;
    # two alerts with the same tags ending in the same minute become one row (their durations summed)
    "alerts": {"duration_s": "sum", "started_at": "min", "communes": "max"},
    "collector": {"received": "max", "points_accepted": "max", "points_written": "max", "rejected_total": "max",
                  "write_errors": "max", "pending_points": "max", "write_latency_mean_ms": "mean",
                  "write_latency_max_ms": "max"},
}

SITE_TAGS = ("province", "commune", "commune_name", "site")
"""The identity tags a site-level rollup keeps (``agent`` is dropped)."""

SITE_ROLLUPS: dict[str, tuple[str, ...]] = {
    "ping": ("target", "name", "role"),
    "http": ("service",),
    "uplink": ("link",),
    "snmp_device": ("device",),
    "snmp_interface": ("device", "interface", "role"),
    "token": ("module",),
    "agent": (),
    "agent_clock": (),
    "collector": ("collector",),
}
"""Measurements the province-wide dashboards read over a time range -> the target tags their site-level
rollup keeps besides ``SITE_TAGS`` (per-PC tags such as a token's serial, a URL, an uplink's interface go)."""

SITE_AGGREGATES: dict[str, dict[str, str]] = {
    # per agent "present" is the hour's minimum (a token pulled out counts); across the PCs of a site the
    # mean is the share of PCs that had theirs, which the signatures dashboard plots
    "token": {"present": "mean"},
    # the worst PC of a site: a clock far behind must not be averaged away by nine good ones
    "agent_clock": {"offset_ms": "max"},
}
"""Where the site-level aggregate across PCs differs from the per-agent one over time."""


def site_fields(measurement: str) -> dict[str, str]:
    return {**ROLLUPS[measurement], **SITE_AGGREGATES.get(measurement, {})}


@dataclass(frozen=True)
class Rollup:
    name: str  # the continuous query's name
    measurement: str
    source_rp: str
    target_rp: str
    every: str  # GROUP BY time(...)
    resample_for: str
    site: bool = False  # group by the site's tags instead of every tag

    def select(self, db: str, where: str = "") -> str:
        aggs = site_fields(self.measurement) if self.site else ROLLUPS[self.measurement]
        fields = ", ".join(f'{agg}("{f}") AS "{f}"' for f, agg in aggs.items())
        cond = f" WHERE {where}" if where else ""
        tags = (", ".join(f'"{t}"' for t in (*SITE_TAGS, *SITE_ROLLUPS[self.measurement])) if self.site
                else "*")
        return (f'SELECT {fields} INTO "{db}"."{self.target_rp}"."{self.measurement}" FROM '
                f'"{db}"."{self.source_rp}"."{self.measurement}"{cond} GROUP BY time({self.every}), {tags}')

    def create(self, db: str) -> str:
        return (f'CREATE CONTINUOUS QUERY "{self.name}" ON "{db}" RESAMPLE EVERY {self.every} FOR '
                f"{self.resample_for} BEGIN {self.select(db)} END")


SITE_CQ_PREFIXES = ("cm_s1m_", "cm_s1h_")


def rollups(cfg: RetentionSection) -> list[Rollup]:
    """In the order a backfill must run them: each reads the policy the one before fills."""
    out = [Rollup(f"cm_1m_{m}", m, cfg.raw_policy, MINUTE_RP, "1m", "10m") for m in ROLLUPS]
    out += [Rollup(f"cm_1h_{m}", m, MINUTE_RP, HOUR_RP, "1h", "2h") for m in ROLLUPS]
    if cfg.site_rollups:
        # one interval longer than the per-agent window it reads, so the per-agent rollup's last
        # recomputation of an interval is always followed by one of the site's
        minute, hour = SITE_CQ_PREFIXES
        out += [Rollup(f"{minute}{m}", m, MINUTE_RP, SITE_MINUTE_RP, "1m", "11m", site=True) for m in SITE_ROLLUPS]
        out += [Rollup(f"{hour}{m}", m, HOUR_RP, SITE_HOUR_RP, "1h", "3h", site=True) for m in SITE_ROLLUPS]
    return out


def site_policy(cfg: RetentionSection, per_agent_policy: str) -> str:
    """The policy a province-wide dashboard reads where a per-agent one would read ``per_agent_policy``: the
    site-level rollups at every range (1 minute up to ``minute_max_range``, raw ranges included: raw points
    of every PC of the province are what must not be scanned), or the same one without site rollups."""
    if not cfg.site_rollups:
        return per_agent_policy
    return SITE_HOUR_RP if per_agent_policy == HOUR_RP else SITE_MINUTE_RP
