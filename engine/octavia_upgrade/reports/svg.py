"""Geometry of the execution timeline (a Gantt chart drawn as inline SVG).

Pure: from a report's ``timeline`` section (plain data) to rectangles, text
positions and tick marks in SVG user units. The HTML template only draws
what this module computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from octavia_upgrade.reports.text import duration
from octavia_upgrade.statuses import Phase, ResultStatus

#: Bar colours by result status; chosen to stay distinct when printed in grey.
COLOURS = {
    ResultStatus.SUCCEEDED: "#2e7d32",
    ResultStatus.FAILED: "#c62828",
    ResultStatus.TIMED_OUT: "#ef6c00",
    ResultStatus.UNREACHABLE: "#6a1b9a",
    ResultStatus.UNKNOWN: "#37474f",
    ResultStatus.RUNNING: "#1565c0",
    ResultStatus.ABORTED: "#8d6e63",
    ResultStatus.SKIPPED: "#bdbdbd",
}
DOWNTIME = "#f9a825"
#: Availability stretches of a probe target (VIP or API): answering, not answering.
ANSWERING = "#81c784"
NOT_ANSWERING = "#e53935"

LABEL_W = 300
ROW_H = 20
BAR_H = 12
TOP = 28
NICE = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)


def _tick_step(span: float, max_ticks: int = 10) -> float:
    for step in NICE:
        if span / step <= max_ticks:
            return float(step)
    return float(NICE[-1] * max(1, int(span / NICE[-1] / max_ticks) + 1))


def _offset_label(sec: float) -> str:
    s = int(round(sec))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"+{h}:{m:02d}:{s:02d}" if h else f"+{m}:{s:02d}"


def layout(timeline: Mapping[str, Any], width: int = 1100) -> dict[str, Any]:
    """Everything the template needs to draw the chart."""
    span = max(float(timeline.get("span") or 0.0), 1.0)
    plot_w = width - LABEL_W - 16
    scale = plot_w / span
    rows = []
    used: set[str] = set()
    for i, row in enumerate(timeline.get("rows") or ()):
        y = TOP + i * ROW_H
        bars = []
        for b in row.get("bars") or ():
            x = LABEL_W + float(b["start"]) * scale
            w = max(float(b["duration"]) * scale, 2.0)
            status = str(b["status"])
            used.add(status)
            bars.append({"x": round(x, 2), "y": y + (ROW_H - BAR_H) / 2, "w": round(w, 2),
                         "h": BAR_H, "colour": COLOURS.get(status, "#9e9e9e"), "status": status,
                         "title": f"{row['step_id']} on {row['host']}: attempt {b['attempt']} "
                                  f"{status}, {duration(b['duration'])}"})
        host = row.get("host") or ""
        rows.append({"y": y, "text_y": y + ROW_H / 2 + 4, "label": f"{row['step_id']} · {host}",
                     "phase": row.get("phase") or Phase.MAIN.value, "bars": bars, "stripe": i % 2 == 1})
    for row in timeline.get("availability") or ():
        i = len(rows)
        y = TOP + i * ROW_H
        what = "VIP" if row.get("kind") == "vip" else "API"
        bars = []
        for seg in row.get("segments") or ():
            state = "answering" if seg["ok"] else "not answering"
            bars.append({"x": round(LABEL_W + float(seg["start"]) * scale, 2),
                         "y": y + (ROW_H - BAR_H) / 2,
                         "w": round(max(float(seg["duration"]) * scale, 1.0), 2), "h": BAR_H,
                         "colour": ANSWERING if seg["ok"] else NOT_ANSWERING,
                         "status": "answering" if seg["ok"] else "not-answering",
                         "title": f"{what} {row['probe']}: {state} for "
                                  f"{duration(seg['duration'])}"})
        used.add("answering" if any(b["status"] == "answering" for b in bars) else "")
        used.add("not-answering" if any(b["status"] != "answering" for b in bars) else "")
        rows.append({"y": y, "text_y": y + ROW_H / 2 + 4,
                     "label": f"{what} availability · {row['probe']}", "phase": Phase.MAIN.value,
                     "bars": bars, "stripe": i % 2 == 1})
    height = TOP + len(rows) * ROW_H + 44
    step = _tick_step(span)
    ticks = []
    t = 0.0
    while t <= span + 1e-6:
        ticks.append({"x": round(LABEL_W + t * scale, 2), "label": _offset_label(t)})
        t += step
    down = None
    # The measured window (first stop → API answering on every host) when the
    # API was probed; the step-based one otherwise.
    measured = timeline.get("outage_start") is not None and timeline.get("outage_end") is not None
    ds, de = ((timeline.get("outage_start"), timeline.get("outage_end")) if measured
              else (timeline.get("downtime_start"), timeline.get("downtime_end")))
    shade = ("control-plane outage (first stop → API answering)" if measured
             else "control-plane downtime (step boundaries)")
    if ds is not None and de is not None:
        x = LABEL_W + float(ds) * scale
        down = {"x": round(x, 2), "w": round(max((float(de) - float(ds)) * scale, 2.0), 2),
                "y": TOP - 6, "h": len(rows) * ROW_H + 6,
                "title": f"{shade}: {duration(float(de) - float(ds))}"}
    legend = []
    lx = LABEL_W
    items = [(s, COLOURS[s]) for s in COLOURS if s in used]
    items += [(s, c) for s, c in (("answering", ANSWERING), ("not-answering", NOT_ANSWERING))
              if s in used]
    if down:
        items.append((shade, DOWNTIME))
    for name, colour in items:
        legend.append({"x": lx, "label": name.replace("_", " ").replace("-", " "),
                       "colour": colour, "downtime": name == shade})
        lx += 24 + 7 * len(name)
    return {"width": width, "height": height, "label_w": LABEL_W, "top": TOP,
            "plot_right": LABEL_W + plot_w, "rows": rows, "ticks": ticks, "downtime": down,
            "legend": legend, "legend_y": height - 18, "axis_y": TOP + len(rows) * ROW_H,
            "downtime_colour": DOWNTIME}
