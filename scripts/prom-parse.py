#!/usr/bin/env python3
"""Parses an OpenMetrics exposition (a scrape of `sentry-load run --metrics-listen`) with the
Prometheus client's own parser (PyPI `prometheus-client`, `openmetrics.parser`, which refuses
what the format does not allow) and prints its samples as one JSON object:
{"<sample name>": [[{labels}, value], ...], ...}. Used by tests/metrics.rs.

usage: prom-parse.py FILE
"""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append([s.labels, s.value])
    print(json.dumps(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
