"""The measurements the SNMP probe sends (see ``agent.wire.spec``; listed in docs/probes/snmp.md)."""

from __future__ import annotations

from typing import Final

from agent.wire.spec import RESULT_FIELDS, float_field, int_field, measurement, str_field

MEASUREMENTS: Final = (
    measurement("snmp_device", "snmp", {"device": "the configured name", "host": "the configured address",
                                        "vendor": "the profile used (absent when the device did not answer)"}, {
        **RESULT_FIELDS,
        "uptime_s": float_field("s", "sysUpTime"),
        "rebooted": int_field("1/0", "1 when sysUpTime went back since the last poll"),
        "sys_name": str_field("as the device says (cut at 256 characters)", max_length=256),
        "sys_descr": str_field("as the device says (cut at 256 characters)", max_length=256),
        "sys_object_id": str_field("as the device says", max_length=256),
        "cpu_percent": float_field("%", "when answered"),
        "mem_percent": float_field("%", "when answered"),
        "interfaces": int_field("count", "interfaces reported"),
        "interfaces_up": int_field("count", "of which oper up"),
        "uplink_found": int_field("1/0", "when uplink is set"),
        "uplink_up": int_field("1/0"),
        "uplink_in_util_percent": float_field("%", "of the port speed or of uplink_bandwidth_mbps"),
        "uplink_out_util_percent": float_field("%", "of the port speed or of uplink_bandwidth_mbps"),
        "uplink_saturated": int_field("1/0"),
        "poll_ms": float_field("ms", "time of this device's poll"),
        "requests": int_field("count", "SNMP requests sent for this poll"),
    }),
    measurement("snmp_interface", "snmp", {"device": "the configured name",
                                           "interface": "ifName (ifDescr when there is no ifName)",
                                           "if_index": "ifIndex", "role": "uplink on the configured uplink"}, {
        "if_descr": str_field("ifDescr (cut at 256 characters)", max_length=256),
        "if_alias": str_field("ifAlias (cut at 256 characters)", max_length=256),
        "if_type": int_field("", "IANAifType (6 ethernet, 53 VLAN, 24 loopback, ...)"),
        "admin_status": int_field("", "IF-MIB code: 1 up, 2 down, 3 testing, 5 dormant, 7 lowerLayerDown ..."),
        "oper_status": int_field("", "IF-MIB code: 1 up, 2 down, 3 testing, 5 dormant, 7 lowerLayerDown ..."),
        "admin_up": int_field("1/0"), "oper_up": int_field("1/0"),
        "speed_bps": int_field("bit/s"),
        "in_octets": int_field("bytes", "raw counter (64-bit when available)"),
        "out_octets": int_field("bytes", "raw counter (64-bit when available)"),
        "in_bps": float_field("bit/s", "from the second poll on"),
        "out_bps": float_field("bit/s", "from the second poll on"),
        "in_util_percent": float_field("%", "of speed_bps"),
        "out_util_percent": float_field("%", "of speed_bps"),
        "in_errors_per_s": float_field("packets/s"), "out_errors_per_s": float_field("packets/s"),
        "in_discards_per_s": float_field("packets/s"), "out_discards_per_s": float_field("packets/s"),
    }),
    measurement("snmp_event", "snmp", {"device": "the configured name", "event": "reboot"}, {
        "previous_uptime_s": float_field("s", "before the reboot"),
        "uptime_s": float_field("s", "now"),
    }),
)
