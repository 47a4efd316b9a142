#!/usr/bin/env python3
"""Checks envelope files against Relay's own event normalization (PyPI `sentry-relay`).

Usage: relay-normalize.py FILE.envelope...
Every `event` and `transaction` item is passed through `StoreNormalizer(project_id=1)`;
anything it reports — in `errors`, as an `err` entry anywhere under `_meta`, or a value it
trimmed (`rem` / `len` under `_meta`) — is a failure. Prints one JSON object: {"checked": N, "failures": [{"file", "problems"}]} and
exits 1 when there is a failure.
"""
import json
import sys

from sentry_relay.processing import StoreNormalizer


def items(path):
    data = open(path, "rb").read()
    header_end = data.index(b"\n")
    rest = data[header_end + 1 :]
    while rest.strip():
        line_end = rest.index(b"\n")
        header = json.loads(rest[:line_end])
        rest = rest[line_end + 1 :]
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] :]
            rest = rest[1:] if rest[:1] == b"\n" else rest
        else:
            end = rest.find(b"\n")
            payload, rest = (rest, b"") if end < 0 else (rest[:end], rest[end + 1 :])
        yield header.get("type"), payload


def meta_errors(meta, path=""):
    """Every `err` list under `_meta`, and every trimmed value (`rem`, or an original `len`),
    with the path it applies to: both mean Relay changed what was sent."""
    found = []
    if isinstance(meta, dict):
        for key, value in meta.items():
            if key == "" and isinstance(value, dict):
                if value.get("err"):
                    found.append({"path": path or ".", "err": value["err"]})
                if value.get("rem") or value.get("len"):
                    found.append({"path": path or ".", "trimmed": value})
            elif key != "":
                found.extend(meta_errors(value, f"{path}.{key}" if path else key))
    return found


def main(paths):
    normalizer = StoreNormalizer(project_id=1)
    checked, failures = 0, []
    for path in paths:
        for kind, payload in items(path):
            if kind not in ("event", "transaction"):
                continue
            checked += 1
            event = normalizer.normalize_event(json.loads(payload))
            problems = list(event.get("errors") or []) + meta_errors(event.get("_meta") or {})
            if problems:
                failures.append({"file": path, "problems": problems})
    print(json.dumps({"checked": checked, "failures": failures[:20]}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
