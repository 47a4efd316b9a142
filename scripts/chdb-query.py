#!/usr/bin/env python3
"""Runs SQL in ClickHouse in-process (PyPI `chdb-core`): the test suite's ClickHouse 26.

Reads a JSON object from stdin, {"setup": [sql, ...], "queries": [sql, ...]}, runs the setup
statements in a fresh session, then each query with JSONEachRow output, and prints
{"version": "...", "results": [[row, ...], ...]} on stdout. Used by tests/clickhouse26.rs.
"""
import json
import sys
import tempfile

from chdb import session


def main() -> int:
    request = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as path:
        s = session.Session(path)
        for sql in request["setup"]:
            s.query(sql)
        results = []
        for sql in request["queries"]:
            text = s.query(sql, "JSONEachRow").bytes().decode()
            results.append([json.loads(line) for line in text.splitlines() if line.strip()])
        version = s.query("SELECT version()", "TSV").bytes().decode().strip()
        s.close()
    json.dump({"version": version, "results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
