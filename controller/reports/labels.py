"""Every heading a report prints, in English source form (Vietnamese in ``reports.po``).

Reports are read by people in spreadsheets, so headings, section names and the
indicator wording are translated; keys, codes and numbers are not.
"""

from __future__ import annotations

from ..i18n import N_

TITLES = {
    "uptime": N_("Uptime report"),
    "indicators": N_("Report on indicators 1 and 2"),
}

META = {
    "unit": N_("Unit"),
    "period": N_("Period"),
    "definition": N_("Indicator definition"),
    "window": N_("Service window"),
    "evidence": N_("Evidence level counted"),
    "thresholds": N_("Thresholds"),
    "tree_day": N_("Administrative units as of"),
    "measured_until": N_("Measured until"),
    "generated_at": N_("Generated at"),
    "times": N_("Times are local"),
}

SECTIONS = {
    "indicators": N_("Indicators"),
    "communes": N_("Commune list"),
    "villages": N_("Village list"),
    "stations": N_("Station list"),
    "clusters": N_("Cluster list"),
    "agents": N_("Agent list"),
    "outages": N_("Outages"),
    "missed": N_("Missed airings"),
    "days": N_("Agents by day"),
    "intervals": N_("Availability intervals"),
    "airings": N_("Targeted airings"),
    "attestations": N_("Attestations"),
    "alerts": N_("Alerts"),
    "timeline": N_("Uptime timeline by village"),
    "chart": N_("Availability by village"),
}

COLUMNS = {
    "stt": N_("No."),
    "content": N_("Indicator"),
    "value": N_("Value"),
    "commune": N_("Commune"),
    "commune_name": N_("Commune name"),
    "parents": N_("Part of"),
    "village": N_("Village"),
    "name": N_("Name"),
    "station": N_("Station"),
    "cluster": N_("Cluster"),
    "agent": N_("Agent"),
    "agents": N_("Agents"),
    "kind": N_("Kind"),
    "villages": N_("Number of villages"),
    "villages_reached": N_("Villages reached"),
    "coverage": N_("Village coverage"),
    "dat": N_("Achieved (đạt)"),
    "stations": N_("Stations"),
    "converted": N_("Converted"),
    "clusters": N_("Clusters"),
    "ip_clusters": N_("IP clusters"),
    "ip_share": N_("IP cluster share"),
    "availability": N_("Availability"),
    "best_availability": N_("Availability (best IP cluster)"),
    "mean_availability": N_("Availability (mean of IP clusters)"),
    "window_h": N_("Service window (h)"),
    "up_h": N_("Up (h)"),
    "e0_h": N_("Up, process only (h)"),
    "e1_h": N_("Up, sink writing (h)"),
    "e2_h": N_("Up, amplifier sensed (h)"),
    "e3_h": N_("Up, loopback (h)"),
    "unanchored_h": N_("Unanchored (h)"),
    "outages": N_("Outages"),
    "outage_h": N_("Down in window (h)"),
    "targeted": N_("Items targeted"),
    "aired": N_("Items aired"),
    "missed": N_("Items missed"),
    "reached": N_("Reached"),
    "reaches": N_("Reaches its village"),
    "basis": N_("Basis"),
    "attested_by": N_("Attested by"),
    "attested_at": N_("Attested at"),
    "attestations": N_("Attestations"),
    "start": N_("Start"),
    "end": N_("End"),
    "duration_h": N_("Duration (h)"),
    "in_window_h": N_("In service window (h)"),
    "cause": N_("Cause"),
    "from_before": N_("Down before the period"),
    "ongoing": N_("Still down"),
    "slot": N_("Slot"),
    "programme": N_("Programme"),
    "scheduled": N_("Scheduled"),
    "outcome": N_("Outcome"),
    "record": N_("Play record"),
    "day": N_("Day"),
    "journal": N_("Journal"),
    "boot": N_("Boot"),
    "interval": N_("Interval"),
    "evidence": N_("Evidence"),
    "anchored": N_("Anchored"),
    "id": N_("ID"),
    "target": N_("Attests"),
    "key": N_("Key"),
    "period_start": N_("From"),
    "period_end": N_("To"),
    "effective_end": N_("Counts until"),
    "note": N_("Note"),
    "raised_at": N_("Raised"),
    "cleared_at": N_("Cleared"),
    "subject": N_("About"),
    "detail": N_("Detail"),
    "drill": N_("Details in"),
}

VALUES = {
    "yes": N_("yes"),
    "no": N_("no"),
    "dat": N_("Achieved"),
    "not_dat": N_("Not achieved"),
    "ip": N_("IP"),
    "wired": N_("wired"),
    "fm": N_("FM"),
    "hybrid": N_("hybrid"),
    "ip-availability-only": N_("IP, availability only (nothing targeted)"),
    "attested": N_("attested"),
    "none": N_("not reached"),
    "no-record": N_("no record"),
    "low-evidence": N_("evidence below the level"),
    "unanchored": N_("unanchored (time not trusted)"),
    "aired": N_("aired"),
    "partial": N_("partial"),
    "preempted": N_("pre-empted"),
    "skipped": N_("skipped"),
    "failed": N_("failed"),
    "missed": N_("missed"),
    "cluster": N_("cluster"),
    "station": N_("station"),
    "alert_agent_offline": N_("agent offline"),
    "alert_airing_missed": N_("airing missed"),
    "alert_village_unreached": N_("village not reached"),
    "alert_journal_backlog": N_("journal backlog growing"),
}

EVIDENCE = {
    0: N_("process up"),
    1: N_("sound sink open and writing"),
    2: N_("amplifier power sensed"),
    3: N_("loopback while playing"),
}

INDICATORS = {
    "i1": N_("Share of communes whose loudspeaker system operates down to every "
             "village and residential group (indicator 1)"),
    "i1_commune": N_("The loudspeaker system operates down to every village and "
                     "residential group (indicator 1)"),
    "i1_dat": N_("Communes achieving it"),
    "i1_total": N_("Communes"),
    "i1_villages": N_("Share of villages and residential groups reached (sub-metric)"),
    "i1_target": N_("National target for {year}"),
    "i2": N_("Share of commune stations converted to IT-telecom (IP) broadcasting "
             "(indicator 2)"),
    "i2_converted": N_("Stations converted"),
    "i2_total": N_("Stations"),
    "i2_clusters": N_("Share of IP clusters (sub-metric)"),
    "i2_target": N_("National target for {year}"),
    "no_target": N_("none set"),
}

TEXT = {
    "thresholds": N_("village reached at >= {availability} availability and >= {aired} "
                     "of targeted items aired; hybrid station converted at >= {hybrid} "
                     "IP clusters; attestations last {days} days"),
    "evidence": N_("{level} ({name}) or stronger"),
    "whole_region": N_("every commune in the database"),
    "timeline_note": N_("Each cell is the availability of the village's best IP cluster "
                        "(green at or above the threshold, red below; grey: no IP "
                        "cluster). Hover for the figures."),
    "timeline_intervals_note": N_("One row per agent: its availability intervals, coloured "
                                  "by evidence, and its outages in red, on a time axis; the "
                                  "service window of each day is shaded."),
    "chart_note": N_("The line is the village threshold of the definition."),
    "no_rows": N_("(none)"),
    "details": N_("Details (drill-down)"),
    "drill_note": N_("Every figure above is broken down in the detail tables below, down "
                     "to the intervals and play records behind it."),
}

LEGEND = {
    "up": N_("up, at the evidence level"),
    "low": N_("up, below the evidence level"),
    "unanchored": N_("unanchored"),
    "outage": N_("outage"),
}
