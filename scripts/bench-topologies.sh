#!/usr/bin/env bash
# Compares the sim's topology presets under the same load: the harness sends RATE envelopes/s
# (half errors, half transactions) for SECS seconds to a standalone sim started with each
# preset, reads them back through the sim's API, and this prints one Markdown row per preset:
# achieved rate, accepted, refused with 503 (queue full), visible, and visibility latency.
#
#   scripts/bench-topologies.sh [RATE] [SECS]      (default 2000 20)
#
# With the presets' modeled capacity (workers / service time; see sim/src/preset.rs), a
# 50/50 mix of 4 ms errors and 2 ms transactions is 1,333/s for single-node, 2,667/s for split
# and 8,000/s for scaled.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-2000}
SECS=${2:-20}
cargo build --release --quiet
BIN=$PWD/target/release/sentry-load
KEY=0123456789abcdef0123456789abcdef
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; kill $(jobs -p) 2>/dev/null || true' EXIT

echo "| preset | achieved/s | accepted | 503 (queue full) | visible | latency p50 | latency p99 |"
echo "|---|---|---|---|---|---|---|"
port=19300
for preset in single-node split scaled; do
  port=$((port + 1))
  SENTRY_LOAD_SIM_TOKEN=bench "$BIN" sim --preset "$preset" --listen "127.0.0.1:$port" \
    --project 1 --key "$KEY" 2>"$WORK/sim-$preset.log" &
  sim=$!
  for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.1; done
  cat > "$WORK/$preset.toml" <<PROFILE
seed = 1
[target]
kind = "relay"
dsn = "http://$KEY@127.0.0.1:$port/1"
[traffic]
rate = $RATE
duration = "${SECS}s"
mix = { error = 1, transaction = 1 }
[send]
max_in_flight = 512
[verify]
poll_interval = "250ms"
deadline = "120s"
[verify.sentry_api]
url = "http://127.0.0.1:$port/"
token = "bench"
PROFILE
  (cd "$WORK" && "$BIN" run --profile "$preset.toml" --quiet --out "runs-$preset" >/dev/null 2>&1) || true
  kill "$sim"; wait "$sim" 2>/dev/null || true
  python3 - "$WORK/runs-$preset" "$preset" <<'PY'
import glob, json, sys
r = json.load(open(glob.glob(sys.argv[1] + "/*/report.json")[0]))
s, v = r["sending"], r["visibility"]
print(f"| {sys.argv[2]} | {s['achieved_rate']:.0f} | {s['outcomes']['accepted']} | "
      f"{s['outcomes']['unavailable']} | {v['seen']} | {v['latency_ms']['p50']} ms | {v['latency_ms']['p99']} ms |")
PY
done
