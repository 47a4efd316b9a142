#!/usr/bin/env python3
"""Sends events with Sentry's own Python SDK (PyPI `sentry-sdk`): N errors and N transactions
(each with a child span) to a DSN, then flushes. Prints one JSON line per event sent,
{"kind": "error" | "transaction", "id": "<32 hex>"}. Used by tests/real_clients.rs.

usage: sdk-send.py DSN N
"""
import json
import sys

import sentry_sdk


def main() -> int:
    dsn, count = sys.argv[1], int(sys.argv[2])
    sentry_sdk.init(dsn=dsn, traces_sample_rate=1.0, release="sdk-test@1.0.0")
    for i in range(count):
        try:
            raise ValueError(f"sentry-sdk error {i}")
        except ValueError:
            event_id = sentry_sdk.capture_exception()
        print(json.dumps({"kind": "error", "id": event_id}), flush=True)
        transaction = sentry_sdk.start_transaction(name=f"/sdk/{i}", op="http.server")
        span = transaction.start_child(op="db", description="SELECT 1")
        span.finish()
        event_id = transaction.finish()
        print(json.dumps({"kind": "transaction", "id": event_id}), flush=True)
    sentry_sdk.flush(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
