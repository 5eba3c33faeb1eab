#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fills in the emergency hotfix's report template with what locust measured.

usage: report.py CSV_PREFIX[,CSV_PREFIX...] HEALTH_JSON USERS DURATION_S
Each CSV_PREFIX is one locust run's --csv prefix (PREFIX_stats.csv and
PREFIX_failures.csv). Several runs side by side (scripts/loadtest.sh
--heavy) are merged: counts and rates are summed, each percentile is the
worst of the runs', a bound rather than the exact merged value.
Prints the report; exits 0 when the hotfix's targets are met, 1 otherwise.
"""
import csv
import datetime
import json
import sys

# The Python system's figures before the hotfix (the hotfix manual).
BEFORE = {"health_s": 104.0, "products_s": 64.0, "failure_pct": 50.0, "rps": 0.27}


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def merge(runs):
    """Rows of the same (Type, Name) from several runs, combined."""
    merged = {}
    for run in runs:
        for key, row in run.items():
            if key not in merged:
                merged[key] = dict(row)
                continue
            into = merged[key]
            for column in ("Request Count", "Failure Count"):
                into[column] = str(int(into[column]) + int(row[column]))
            into["Requests/s"] = str(float(into["Requests/s"]) + float(row["Requests/s"]))
            for column in ("50%", "95%", "99%"):
                into[column] = str(max(float(into[column] or 0), float(row[column] or 0)))
    return merged


def main():
    prefixes, health_json, users, duration = sys.argv[1].split(","), *sys.argv[2:5]
    stats = merge([{(r["Type"], r["Name"]): r for r in rows(p + "_stats.csv")}
                   for p in prefixes])
    total = stats[("", "Aggregated")]
    products = stats.get(("GET", "/v1/products/?limit=5"))
    health = stats.get(("GET", "/health"))
    failures = [r for p in prefixes for r in rows(p + "_failures.csv")]
    with open(health_json) as f:
        doc = json.load(f)

    requests = int(total["Request Count"])
    failed = int(total["Failure Count"])
    failure_pct = 100.0 * failed / requests if requests else 100.0
    rps = float(total["Requests/s"])
    p95_s = float(total["95%"]) / 1000.0

    def seconds(row, column):
        return float(row[column]) / 1000.0 if row else float("nan")

    health_med, health_p95 = seconds(health, "50%"), seconds(health, "95%")
    products_med, products_p95 = seconds(products, "50%"), seconds(products, "95%")
    hit_ratio = doc["components"]["cache"]["hit_ratio"]
    timeouts = sum(int(r["Occurrences"]) for r in failures
                   if "timeout" in r["Error"].lower() or "timed out" in r["Error"].lower())

    def improvement(before, after):
        return 100.0 * (before - after) / before

    targets = [
        ("RPS > 2.0", rps > 2.0, f"{rps:.2f}"),
        ("Response time P95 < 5 s", p95_s < 5.0, f"{p95_s:.3f} s"),
        ("Failure rate < 10 %", failure_pct < 10.0, f"{failure_pct:.2f} %"),
    ]
    ideal = [
        ("Health check < 500 ms (p95)", health_p95 < 0.5, f"{health_p95 * 1000:.1f} ms"),
        ("Products < 2 s (p95)", products_p95 < 2.0, f"{products_p95 * 1000:.1f} ms"),
        ("Cache hit ratio > 50 %", hit_ratio > 0.5, f"{hit_ratio * 100:.1f} %"),
        ("Zero timeout errors", timeouts == 0, f"{timeouts}"),
    ]
    stable = failure_pct < 10.0 and requests > 0
    met = all(ok for _, ok, _ in targets)
    status = "SUCCESS" if met and all(ok for _, ok, _ in ideal) else "PARTIAL" if met else "FAILED"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")

    print(f"""🚨 EMERGENCY HOTFIX RESULTS - {now}
(retail-api, {users} users, {duration} s, {requests} requests)

BEFORE HOTFIX:
- Health Check: {BEFORE['health_s']:g}s
- Products API: {BEFORE['products_s']:g}s
- Failure Rate: {BEFORE['failure_pct']:g}%
- RPS: {BEFORE['rps']:g}

AFTER HOTFIX:
- Health Check: {health_med:.3f}s (median; p95 {health_p95:.3f}s)
- Products API: {products_med:.3f}s (median; p95 {products_p95:.3f}s)
- Failure Rate: {failure_pct:.2f}%
- RPS: {rps:.2f}

IMPROVEMENT:
- Health Check: {improvement(BEFORE['health_s'], health_med):.3f}% improvement
- Products API: {improvement(BEFORE['products_s'], products_med):.3f}% improvement
- Throughput: {rps / BEFORE['rps']:.1f}x the requests per second
- System Stability: {'PASS' if stable else 'FAIL'}

TARGETS (objetivo):""")
    for name, ok, value in targets:
        print(f"- {name}: {value} {'PASS' if ok else 'FAIL'}")
    print("IDEAL (excelencia):")
    for name, ok, value in ideal:
        print(f"- {name}: {value} {'PASS' if ok else 'FAIL'}")
    print(f"\nSTATUS: {status}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
