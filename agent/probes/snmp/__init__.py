"""snmp: poll the site's routers and switches over SNMP v2c or v3 (authPriv), LibreNMS / Telegraf style.

Per device (all devices polled concurrently; each has its own request timeout, retries and deadline, so a
slow or dead device never delays the others): system scalars, the interface table (IF-MIB, multi-column
GETBULK walks, numeric OIDs), CPU and memory from the vendor profile or HOST-RESOURCES-MIB.

Measurements
- ``snmp_device`` (tags ``device``, ``host``, ``vendor``): result, ok, reason, uptime_s (float), rebooted
  (0/1), sys_name, sys_descr, sys_object_id (strings), cpu_percent, mem_percent (float, when answered),
  interfaces, interfaces_up (int), uplink_found, uplink_up (0/1), uplink_in_util_percent,
  uplink_out_util_percent (float), uplink_saturated (0/1), poll_ms (float), requests (int).
- ``snmp_interface`` (tags ``device``, ``interface`` = ifName or ifDescr, ``if_index``, ``role`` = uplink
  for the configured uplink): if_descr, if_alias (string), if_type, admin_status, oper_status (int, IF-MIB
  codes: 1 up, 2 down, ...), admin_up, oper_up (0/1), speed_bps (int), in_octets, out_octets (int, raw
  counters), and from the second poll on: in_bps, out_bps, in_util_percent, out_util_percent,
  in_errors_per_s, out_errors_per_s, in_discards_per_s, out_discards_per_s (float).
- ``snmp_event`` (tags ``device``, ``event`` = reboot): previous_uptime_s, uptime_s (float).

Rates come from counter deltas between two polls of the same probe instance. A device restart (sysUpTime
going back), a 64-bit counter going back, or a rate above the interface speed gives no rate that round
(never a negative or absurd one); 32-bit counters that wrap are unwrapped once.

Result codes (``snmp_device``): ok; timeout (no answer within timeout x retries); auth_error (SNMPv3 user,
keys or protocols rejected; a wrong privacy key is diagnosed with an unauthenticated request, since agents
drop what they cannot decrypt); uplink_down (the device answers but its uplink is down); error (anything
else, e.g. an SNMP error status). A configured uplink that does not exist is not a failure: the result
stays ok, ``uplink_found`` is 0 and ``reason`` says so.
"""
from agent.probes.snmp.config import SnmpConfig, SnmpDevice, SnmpV3
from agent.probes.snmp.probe import SnmpProbe
from agent.probes.snmp.results import SnmpResult

__all__ = ["SnmpConfig", "SnmpDevice", "SnmpProbe", "SnmpResult", "SnmpV3"]
