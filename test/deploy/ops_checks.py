#!/usr/bin/python3
"""Checks of the operator files in deploy/: the Grafana dashboard and the alert rules.

  ops_checks.py --dashboard JSON --rules YAML (--source METRICS_PAGE_CC | --metrics FILE...)

The series every panel expression and every alert rule reads must exist: either on a real
replica's /metrics page (--metrics, Prometheus text as scraped; test/e2e/ops_e2e.sh passes
its scrapes) or among the families replica/node/metrics_page.cc renders (--source; read
from its Family/Single/SingleDouble/PerPeer calls), so renaming a metric in the code breaks
this check until the dashboard and the rules follow. Also: the dashboard is well-formed
Grafana JSON (unique panel ids and refIds, panels on the 24-column grid, every datasource
the template variable) with the panels deploy/README.md promises; every rule has a
severity and a summary. Prints one line per problem and exits 1 if there was any.
"""

import argparse
import json
import re
import sys

import yaml

problems = []


def fail(msg):
    problems.append(msg)


# ------------------------------------------------------------- known series

FAMILY_CALL = re.compile(r'\b(?:Family|Single|SingleDouble|PerPeer)\((?:\s*\w+\s*,)*?\s*'
                         r'"([a-zA-Z_:][a-zA-Z0-9_:]*)"\s*,\s*(?:MetricType::)?(k\w+)')
# Series Prometheus adds to every target itself.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def series_of(name, kind):
    if kind in ("kHistogram", "histogram"):
        return {name + "_bucket", name + "_sum", name + "_count"}
    return {name}


def known_from_source(path):
    text = open(path, encoding="utf-8").read()
    known = set()
    for name, kind in FAMILY_CALL.findall(text):
        known |= series_of(name, kind)
    if len(known) < 20:
        fail(f"{path}: only {len(known)} metric families found; the parser of the source is stale")
    return known


def known_from_pages(paths):
    known = set()
    for path in paths:
        for line in open(path, encoding="utf-8"):
            m = re.match(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)", line)
            if m:
                known |= series_of(m.group(1), m.group(2))
    if not known:
        fail(f"no # TYPE line in {', '.join(paths)}: not a /metrics page")
    return known


# ------------------------------------------------------------- PromQL names

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
            "or", "unless", "offset", "inf", "nan"}


def series_in(expr):
    """The series names a PromQL expression reads (Grafana's $variables removed)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # string literals
    e = re.sub(r"\{[^}]*\}", "", e)                          # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                         # range selectors
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    e = re.sub(r"\$\{?\w+\}?", "", e)
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", e):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in KEYWORDS or re.fullmatch(r"\d+[smhdwy]", name):
            continue
        names.add(name)
    return names


def check_names(where, expr, known):
    names = series_in(expr)
    if not names:
        fail(f"{where}: reads no series: {expr!r}")
    for name in sorted(names - known - SYNTHETIC):
        fail(f"{where}: unknown metric {name}")


# ------------------------------------------------------------- the dashboard

# What deploy/README.md promises a panel for, by title.
REQUIRED_PANELS = ["Epochs per second", "Epoch latency", "Requests by status", "Faults by peer",
                   "Lag", "Link state", "RocksDB size", "Ready replicas", "TLS certificate expiry"]
PANEL_TYPES = {"timeseries", "stat", "state-timeline", "gauge", "table", "bargauge"}


def check_dashboard(path, known):
    try:
        dash = json.load(open(path, encoding="utf-8"))
    except ValueError as e:
        fail(f"{path}: not valid JSON: {e}")
        return
    for key in ("uid", "title", "schemaVersion", "panels", "templating"):
        if key not in dash:
            fail(f"{path}: no top-level {key!r}")
    variables = {v.get("name"): v for v in (dash.get("templating") or {}).get("list", [])}
    if (variables.get("datasource") or {}).get("type") != "datasource":
        fail(f"{path}: no datasource template variable `datasource`")
    ids = set()
    titles = set()
    for p in dash.get("panels") or []:
        title = p.get("title", "?")
        where = f"{path}: panel {title!r}"
        titles.add(title)
        if p.get("id") in ids:
            fail(f"{where}: panel id {p.get('id')} is used twice")
        ids.add(p.get("id"))
        if p.get("type") not in PANEL_TYPES:
            fail(f"{where}: unknown panel type {p.get('type')!r}")
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in "hwxy") or g["x"] + g["w"] > 24:
            fail(f"{where}: gridPos {g} is not on the 24-column grid")
        if (p.get("datasource") or {}).get("uid") != "${datasource}":
            fail(f"{where}: datasource is not the ${{datasource}} variable")
        targets = p.get("targets") or []
        if not targets:
            fail(f"{where}: no query")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            fail(f"{where}: refIds {refs} repeat")
        for t in targets:
            check_names(f"{where} {t.get('refId')}", t.get("expr", ""), known)
    for title in REQUIRED_PANELS:
        if title not in titles:
            fail(f"{path}: no panel {title!r}")


# ------------------------------------------------------------- the rules

REQUIRED_ALERTS = ["BelfryQuorumAtRisk", "BelfryReplicaDown", "BelfryReplicaLagging",
                   "BelfryPeerFaultsRising", "BelfryCheckpointStalled",
                   "BelfryCertificateExpiresSoon"]


def check_rules(path, known):
    try:
        doc = yaml.safe_load(open(path, encoding="utf-8"))
    except yaml.YAMLError as e:
        fail(f"{path}: not valid YAML: {e}")
        return
    alerts = set()
    for group in (doc or {}).get("groups") or []:
        for rule in group.get("rules") or []:
            name = rule.get("alert") or rule.get("record") or "?"
            alerts.add(name)
            where = f"{path}: {name}"
            check_names(where, str(rule.get("expr", "")), known)
            if "alert" in rule:
                if (rule.get("labels") or {}).get("severity") not in ("warning", "critical"):
                    fail(f"{where}: severity must be warning or critical")
                if not (rule.get("annotations") or {}).get("summary"):
                    fail(f"{where}: no summary annotation")
    for name in REQUIRED_ALERTS:
        if name not in alerts:
            fail(f"{path}: no alert {name}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--rules", required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--source")
    src.add_argument("--metrics", nargs="+")
    args = ap.parse_args()
    known = known_from_source(args.source) if args.source else known_from_pages(args.metrics)
    check_dashboard(args.dashboard, known)
    check_rules(args.rules, known)
    for p in problems:
        print("FAIL: " + p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
