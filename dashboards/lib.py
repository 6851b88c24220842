"""Building blocks shared by the dashboards: InfluxQL targets, the rollup variable, layout, status mappings.

grafana-foundation-sdk (Grafana 11.6 build) has no InfluxDB query type, so ``InfluxQL`` is a small builder of
the data query Grafana's InfluxDB data source stores for a raw (hand-written) InfluxQL query.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as m

from collector.retention import META_RP
from collector.retention_config import RetentionSection

INFLUX = m.DataSourceRef(type_val="influxdb", uid="cm-influxdb")
ALERTS = m.DataSourceRef(type_val="camptocamp-prometheus-alertmanager-datasource", uid="cm-alertmanager-panels")
RAW_RP = RetentionSection().raw_policy  # "now" panels read raw points: recent, few
TIMEZONE = "Asia/Ho_Chi_Minh"
NOW = "time > now() - 15m"  # "right now" in status panels: three rounds of a 5-minute probe

UID = {
    "overview": "cm-province-overview",
    "commune": "cm-commune-detail",
    "portals": "cm-service-portals",
    "signatures": "cm-digital-signatures",
    "network": "cm-network-devices",
    "fleet": "cm-agent-fleet",
}


class InfluxQLQuery(cogvariants.Dataquery):
    def __init__(self, ref_id: str, query: str, result_format: str, alias: str = "") -> None:
        self.ref_id = ref_id
        self.query = query
        self.result_format = result_format
        self.alias = alias

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"refId": self.ref_id, "datasource": INFLUX.to_json(), "rawQuery": True,
                                  "query": self.query, "resultFormat": self.result_format}
        if self.alias:
            out["alias"] = self.alias
        return out


class InfluxQL(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, query: str, ref_id: str = "A", table: bool = False, alias: str = "") -> None:
        self._internal = InfluxQLQuery(ref_id, " ".join(query.split()), "table" if table else "time_series", alias)

    def build(self) -> InfluxQLQuery:
        return self._internal


class AlertmanagerQuery(cogvariants.Dataquery):
    """A query of the Alertmanager panel data source: active, unsilenced alerts matching ``expr``."""

    def __init__(self, expr: str) -> None:
        self.expr = expr

    def to_json(self) -> dict[str, object]:
        return {"refId": "A", "datasource": ALERTS.to_json(), "expr": self.expr, "active": True,
                "silenced": False, "inhibited": False, "legendFormat": ""}


class Alerts(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, expr: str) -> None:
        self._internal = AlertmanagerQuery(expr)

    def build(self) -> AlertmanagerQuery:
        return self._internal


def newest(fields: dict[str, str], source: str, where: str, group_by: str) -> str:
    """The newest point of each group, with its own time: ``fields`` maps field -> column name.

    Not ``last(a), last(b)``: InfluxQL gives a query with several selectors the start of the time range as
    its time, so a "last seen" column would show the range start, and each ``last`` may come from a different
    point (a failure reason from an earlier round beside the current result)."""
    cols = ", ".join(f'"{f}" AS "{a}"' for f, a in fields.items())
    return f"SELECT {cols} FROM {source} WHERE {where} GROUP BY {group_by} ORDER BY time DESC LIMIT 1"


def rp_variable(site: bool = False) -> dash.QueryVariable:
    """Hidden ``rp``: the retention policy that fits the time range, read from ``cm_meta.rollup_choice``
    (raw up to 2 days, 1-minute rollups up to 14 days, 1-hour rollups beyond). Grafana replaces ``$__from``
    and ``$__to`` (ms) and re-runs it whenever the time range changes. ``site``: a province-wide dashboard,
    which reads the site-level rollups (``site_rp``: rp_site_1m up to 14 days, rp_site_1h beyond), whose size
    does not grow with the number of PCs per site."""
    field = "site_rp" if site else "rp"
    q = (f'SELECT "{field}" FROM "{META_RP}"."rollup_choice" WHERE "from_ms" < $__to - $__from '
         'AND "to_ms" >= $__to - $__from')
    return (dash.QueryVariable("rp").label("Độ phân giải").datasource(INFLUX).query(q)
            .refresh(m.VariableRefresh.ON_TIME_RANGE_CHANGED).hide(m.VariableHide.HIDE_VARIABLE)
            .description("Chính sách lưu trữ phù hợp khoảng thời gian: dữ liệu gốc, gộp 1 phút hoặc gộp 1 giờ."))


def commune_variable() -> dash.QueryVariable:
    q = f'SELECT "label" FROM "{META_RP}"."commune_inventory" WHERE "agents" > 0'
    return (dash.QueryVariable("commune").label("Xã/phường").datasource(INFLUX).query(q)
            .regex(r"/^(?<value>\d{5}) (?<text>.*)$/").refresh(m.VariableRefresh.ON_DASHBOARD_LOAD)
            .sort(m.VariableSort.ALPHABETICAL_ASC))


def tag_variable(name: str, label: str, measurement: str, where: str = "", multi: bool = True) -> dash.QueryVariable:
    cond = f" WHERE {where}" if where else ""
    v = (dash.QueryVariable(name).label(label).datasource(INFLUX)
         .query(f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{name}"{cond}')
         .refresh(m.VariableRefresh.ON_DASHBOARD_LOAD).sort(m.VariableSort.ALPHABETICAL_ASC))
    if multi:
        v = v.multi(True).include_all(True).all_value(".*")
    return v


def link_to(key: str, title: str, include_vars: bool = False) -> dash.DashboardLink:
    return (dash.DashboardLink(title).type(m.DashboardLinkType.LINK).url(f"/d/{UID[key]}")
            .keep_time(True).include_vars(include_vars).icon("dashboard"))


def commune_data_link(title: str = "Chi tiết xã") -> dash.DashboardLink:
    """Drill-down from a row or series carrying the ``commune`` tag to the commune detail dashboard."""
    return (dash.DashboardLink(title).url(f"/d/{UID['commune']}?var-commune=${{__data.fields.commune}}&${{__url_time_range}}"))


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return dash.ThresholdsConfig().mode(m.ThresholdsMode.ABSOLUTE).steps([m.Threshold(v, c) for v, c in steps])


AVAILABILITY = thresholds((None, "red"), (0.5, "orange"), (0.95, "green"))


def status_mappings(null_text: str = "Không có agent") -> list[m.ValueMapping]:
    """Commune status from availability (0..1): down / degraded / OK; null: nothing reported."""
    def rng(lo: float, hi: float, text: str, color: str, i: int) -> m.RangeMap:
        return m.RangeMap(m.DashboardRangeMapOptions(lo, hi, m.ValueMappingResult(text, color, None, i)))

    return [rng(0, 0.5, "Mất kết nối", "red", 0), rng(0.5, 0.95, "Suy giảm", "orange", 1),
            rng(0.95, 1.0, "Bình thường", "green", 2),
            m.SpecialValueMap(m.DashboardSpecialValueMapOptions(m.SpecialValueMatch.NULL,
                                                                m.ValueMappingResult(null_text, "text", None, 3)))]


def transform(id_val: str, options: dict[str, Any]) -> m.DataTransformerConfig:
    return m.DataTransformerConfig(id_val=id_val, options=options)


def join_on(field: str) -> list[m.DataTransformerConfig]:
    """Outer-join table frames on ``field`` (every row of the first frame stays): drop the frames' time
    columns first, which differ per query and would otherwise keep rows apart."""
    return [transform("filterFieldsByName", {"exclude": {"pattern": "^Time$"}}),
            transform("joinByField", {"byField": field, "mode": "outer"})]


def reduce_last() -> common_b.ReduceDataOptions:
    return common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def sort_by(name: str, desc: bool = False) -> common_b.TableSortByFieldState:
    return common_b.TableSortByFieldState().display_name(name).desc(desc)


class Layout:
    """Places panels left to right in a 24-column grid and numbers them; a row starts with ``row()``."""

    def __init__(self, board: dash.Dashboard) -> None:
        self.board = board
        self.x = self.y = self.row_h = 0
        self.next_id = 1

    def row(self, title: str) -> None:
        self.newline()
        self.board.with_row(dash.Row(title).id(self.next_id).grid_pos(m.GridPos(1, 24, 0, self.y)))
        self.next_id += 1
        self.y += 1

    def newline(self) -> None:
        self.y += self.row_h
        self.x = self.row_h = 0

    def add(self, panel: Any, w: int, h: int) -> None:
        if self.x + w > 24:
            self.newline()
        panel.id(self.next_id).grid_pos(m.GridPos(h, w, self.x, self.y))
        self.next_id += 1
        self.board.with_panel(panel)
        self.x += w
        self.row_h = max(self.row_h, h)


def board(key: str, title: str, description: str, tags: list[str], time_from: str = "now-24h") -> dash.Dashboard:
    return (dash.Dashboard(title).uid(UID[key]).description(description).tags(["commune-monitor", *tags])
            .timezone(TIMEZONE).time(time_from, "now").refresh("1m").editable()
            .tooltip(m.DashboardCursorSync.CROSSHAIR).week_start("monday"))

