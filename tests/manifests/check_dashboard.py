#!/usr/bin/env python3
"""Every metric a Grafana dashboard queries exists in a /metrics exposition.

    check_dashboard.py --metrics EXPOSITION DASHBOARD.json
    check_dashboard.py --plugin TROUSSEAU_BINARY DASHBOARD.json

EXPOSITION is Prometheus text format (what the plugin's /metrics serves;
tests/manifests/fixtures/metrics.txt until the test reads the real one).
The check fails, naming the panel, when:
  * an `expr` (or a Prometheus template query) names a metric the
    exposition does not have; X_bucket, X_sum and X_count count as family
    X when X is a histogram or summary;
  * a selector lacks instance=~"$instance" (the `instance` variable would
    be decorative);
  * a panel or query uses a data source other than the `$datasource`
    variable, or the dashboard lacks the `datasource` (Prometheus) or the
    `instance` variable, or has no query at all.

Metric names come from a lexical scan of PromQL, not a full parser: string
literals, label matchers, ranges, grouping labels (by, without, on,
ignoring, group_left, group_right), Grafana variables, function names
(an identifier followed by '(') and keywords are not metric names.
"""
import argparse
import os
import subprocess
import tempfile
import urllib.request
import json
import re
import sys

KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "offset", "atan2", "inf", "nan",
    # Aggregations, which may take their grouping before the parenthesis.
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "limitk", "limit_ratio",
}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
TOKEN = re.compile(r"""
    (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<variable>\$\{[^}]*\}|\$\w+|\[\[\w+\]\])
  | (?P<braces>\{(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[^}"'])*\})
  | (?P<range>\[[^\]]*\])
  | (?P<number>(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)(?:ms|[smhdwy])?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<other>\S)
""", re.VERBOSE)
INSTANCE_FILTER = re.compile(r"""\binstance\s*=~\s*"\$\{?instance\}?"|\binstance\s*=~\s*'\$\{?instance\}?'""")


def selectors(expr):
    """[(metric name, its label matchers or '')] of a PromQL expression."""
    tokens = [(m.lastgroup, m.group()) for m in TOKEN.finditer(expr) if m.group().strip()]
    found, i = [], 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else (None, "")
        if kind == "ident" and text in GROUPING and following[1] == "(":
            close = next((j for j in range(i + 2, len(tokens)) if tokens[j][1] == ")"), len(tokens))
            i = close + 1
            continue
        if kind == "ident" and text not in KEYWORDS and following[1] != "(":
            found.append((text, following[1] if following[0] == "braces" else ""))
        elif kind == "braces" and (i == 0 or tokens[i - 1][0] != "ident"):
            found.append(("", text))  # a selector without a metric name
        i += 1
    return found


def exposition_names(text):
    """(every sample name, {family: type}) of a Prometheus text exposition."""
    samples, families = set(), {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 4:
                families[parts[2]] = parts[3]
        elif line and not line.startswith("#"):
            samples.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group())
    return samples, families


def known(name, samples, families):
    if name in samples or name in families:
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and families.get(name[: -len(suffix)]) in ("histogram", "summary"):
            return True
    return False


def queries(dashboard):
    """[(panel title, query, datasource of the panel and of the target)]."""
    out = []

    def walk_panels(panels):
        for p in panels:
            for t in p.get("targets", []):
                if "expr" in t:
                    out.append((p.get("title", "?"), t["expr"], [p.get("datasource"), t.get("datasource")]))
            walk_panels(p.get("panels", []))

    walk_panels(dashboard.get("panels", []))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            q = var.get("query")
            q = q.get("query", "") if isinstance(q, dict) else q or ""
            q = re.sub(r"^\s*(label_values|query_result)\((.*)\)\s*$", r"\2", q)
            q = re.sub(r",\s*[a-zA-Z_]\w*\s*$", "", q)  # label_values(metric, label)
            out.append((f"variable {var.get('name')}", q, [var.get("datasource")]))
    return out


def problems(dashboard, samples, families):
    found = []
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    ds = variables.get("datasource", {})
    if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        found.append("no `datasource` variable of type datasource for prometheus")
    if variables.get("instance", {}).get("type") != "query":
        found.append("no `instance` query variable")
    all_queries = queries(dashboard)
    if not all_queries:
        found.append("no query at all")
    for where, expr, sources in all_queries:
        for s in sources:
            if s is not None and (not isinstance(s, dict) or s.get("uid") != "${datasource}"):
                found.append(f"{where}: data source {s!r} is not the $datasource variable")
        for name, matchers in selectors(expr):
            if not name:
                found.append(f"{where}: a selector without a metric name: {matchers}")
            elif not known(name, samples, families):
                found.append(f"{where}: unknown metric {name} in {expr}")
            elif not where.startswith("variable ") and not INSTANCE_FILTER.search(matchers):
                found.append(f"{where}: {name} is not filtered by instance=~\"$instance\"")
    return found


def scrape_plugin(binary):
    """Starts `trousseau serve` on two key files with telemetry on a free
    port, waits for the listener it logs, and returns its /metrics text."""
    with tempfile.TemporaryDirectory() as d:
        config = os.path.join(d, "trousseau.yaml")
        with open(config, "w") as f:
            f.write(f"""socket: {d}/kms.sock
state_dir: {d}/state
telemetry: {{listen: "127.0.0.1:0"}}
providers:
  - {{name: a, type: keyfile, path: {d}/a.key}}
  - {{name: b, type: keyfile, path: {d}/b.key}}
policy: {{threshold: 1, slots: [{{providers: [a]}}, {{providers: [b]}}]}}
""")
        proc = subprocess.Popen([binary, "serve", "--config", config],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            address = None
            for line in proc.stderr:  # ends when the process exits
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if event.get("msg") == "telemetry listening":
                    address = event["address"]
                    break
            if address is None:
                raise RuntimeError(f"{binary} exited ({proc.wait()}) before its telemetry listened")
            with urllib.request.urlopen(f"http://{address}/metrics") as r:
                return r.read().decode()
        finally:
            proc.terminate()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--metrics", help="a Prometheus text exposition")
    source.add_argument("--plugin", help="the trousseau binary: scrape a running plugin's /metrics")
    ap.add_argument("dashboard")
    args = ap.parse_args()
    if args.plugin:
        text = scrape_plugin(args.plugin)
        args.metrics = f"the /metrics of {args.plugin}"
    else:
        with open(args.metrics) as f:
            text = f.read()
    samples, families = exposition_names(text)
    if not samples:
        print(f"FAIL {args.metrics}: no sample in the exposition")
        return 1
    try:
        with open(args.dashboard) as f:
            dashboard = json.load(f)
    except json.JSONDecodeError as e:
        print(f"FAIL {args.dashboard}: not JSON: {e}")
        return 1
    found = problems(dashboard, samples, families)
    for p in found:
        print(f"FAIL {args.dashboard}: {p}")
    if not found:
        names = {n for _, e, _ in queries(dashboard) for n, _ in selectors(e)}
        print(f"ok   {args.dashboard}: {len(queries(dashboard))} queries over {len(names)} metrics, all in {args.metrics}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
