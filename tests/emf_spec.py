"""The CloudWatch Embedded Metric Format specification, as a checker for the tests.

Written from the published specification (the ``_aws`` metadata object, metric directives,
dimension sets, metric definitions and the root members they reference), not from the
library that writes the lines, so that a test against it can fail.
"""

from __future__ import annotations

from typing import Any

UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
    "Count/Second", "None",
})
MAX_METRICS = 100
MAX_VALUES = 100
MAX_DIMENSIONS = 30


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def problems(doc: Any) -> list[str]:
    """Why ``doc`` is not a valid EMF document (empty: valid)."""
    if not isinstance(doc, dict):
        return ["the root is not a JSON object"]
    meta = doc.get("_aws")
    if not isinstance(meta, dict):
        return ["no _aws metadata object"]
    out = []
    ts = meta.get("Timestamp")
    if not isinstance(ts, int) or isinstance(ts, bool) or ts < 0:
        out.append(f"_aws.Timestamp is not epoch milliseconds: {ts!r}")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return [*out, "_aws.CloudWatchMetrics is not a non-empty array"]
    for i, d in enumerate(directives):
        where = f"CloudWatchMetrics[{i}]"
        ns = d.get("Namespace") if isinstance(d, dict) else None
        if not isinstance(ns, str) or not 1 <= len(ns) <= 255:
            out.append(f"{where}.Namespace is not a 1-255 character string")
        dims = d.get("Dimensions") if isinstance(d, dict) else None
        if not isinstance(dims, list):
            out.append(f"{where}.Dimensions is not an array")
            dims = []
        for dset in dims:
            if not isinstance(dset, list) or len(dset) > MAX_DIMENSIONS:
                out.append(f"{where}: a dimension set is not an array of at most {MAX_DIMENSIONS}")
                continue
            for key in dset:
                if not isinstance(doc.get(key), str):
                    out.append(f"{where}: dimension {key!r} has no string member at the root")
        metrics = d.get("Metrics") if isinstance(d, dict) else None
        if not isinstance(metrics, list) or not 1 <= len(metrics) <= MAX_METRICS:
            out.append(f"{where}.Metrics is not an array of 1-{MAX_METRICS} definitions")
            continue
        for m in metrics:
            name = m.get("Name") if isinstance(m, dict) else None
            if not isinstance(name, str) or not 1 <= len(name) <= 255:
                out.append(f"{where}: a metric has no 1-255 character Name")
                continue
            if "Unit" not in m:
                out.append(f"{where}: metric {name} has no Unit")  # ours always carry one
            elif m["Unit"] not in UNITS:
                out.append(f"{where}: metric {name} has an unknown Unit {m['Unit']!r}")
            value = doc.get(name)
            values = value if isinstance(value, list) else [value]
            if not values or len(values) > MAX_VALUES or not all(_number(v) for v in values):
                out.append(f"{where}: metric {name} has no number (or 1-{MAX_VALUES} numbers) at the root")
    return out
