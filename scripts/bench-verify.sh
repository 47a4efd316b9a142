#!/usr/bin/env bash
# Benchmark of `sentry-load verify` on ClickHouse 18.16 (started by scripts/services.sh):
# a journal of N accepted error sends (1,000/s) whose rows are in `errors_local`, every
# 1,000th left out, verified after the fact — and the same at 10,000 events, the peer that
# fixes the process's own baseline. Reports queries, polls, wall time, peak RSS, and peak
# memory per tracked event as the slope between the two runs:
#   (peak RSS at N − peak RSS at 10,000) / (N − 10,000).
# Usage: scripts/bench-verify.sh [events, default 1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
SMALL=10000
WORK=$(mktemp -d /tmp/sl-bench-verify.XXXX)
trap 'rm -rf "$WORK"' EXIT
scripts/services.sh >/dev/null
eval "$(scripts/services.sh --env)"
cargo build --release --quiet --bin sentry-load --example verify_fixture
DB=sl_bench_verify_$$
curl -sf "$SENTRY_LOAD_TEST_CLICKHOUSE_URL" --data-binary "DROP DATABASE IF EXISTS $DB" >/dev/null
for n in $SMALL "$N"; do
  target/release/examples/verify_fixture "$SENTRY_LOAD_TEST_CLICKHOUSE_URL" "$DB" "$n" 1000 \
    "$WORK/run-$n" >&2
  /usr/bin/time -f "%M %e" -o "$WORK/time-$n" \
    target/release/sentry-load verify "$WORK/run-$n" --out "$WORK/report-$n.json" >/dev/null
done
curl -sf "$SENTRY_LOAD_TEST_CLICKHOUSE_URL" --data-binary "DROP DATABASE IF EXISTS $DB" >/dev/null
python3 - "$WORK" "$SMALL" "$N" <<'PY'
import json, sys
work, small, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = {}
for n in (small, big):
    rss_kb, wall = open(f"{work}/time-{n}").read().split()
    v = json.load(open(f"{work}/report-{n}.json"))["visibility"]
    rows[n] = (int(rss_kb), float(wall), v)
print("| events | seen | missing | polls | queries | wall | peak RSS |")
print("|---|---|---|---|---|---|---|")
for n, (rss, wall, v) in rows.items():
    print(f"| {n:,} | {v['seen']:,} | {v['missing']:,} | {v['polls']} | {v['queries']} "
          f"| {wall:.1f} s | {rss / 1024:.1f} MiB |")
slope = (rows[big][0] - rows[small][0]) * 1024 / (big - small)
print(f"\npeak memory per tracked event: {slope:.1f} bytes "
      f"(goal < 64); queries per 1,000 events at {big:,}: "
      f"{rows[big][2]['queries'] / big * 1000:.2f}")
PY
