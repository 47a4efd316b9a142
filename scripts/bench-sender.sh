#!/usr/bin/env bash
# Whole-process benchmark of the sender, side by side in one run, against a null sink:
#   nginx on 127.0.0.1:18080 answering 200 {"id":…} to every POST, pinned to core 1;
#   each client pinned to core 0, posting the same envelope bytes (from `sentry-load generate`):
#   - sentry-load (open model, unique envelopes generated per send) at an unreachable rate → max
#   - oha, 64 connections, fixed body → max
#   - Goose, 64 users, fixed body (closed model; bench/goose-peer) → max
#   - sentry-load at 50 % and 90 % of its max: achieved/target, p99 lateness; at 10,000/s:
#     peak RSS; at 200/s: achieved/target, p99 lateness.
# The maximum is noisy on a shared machine, so sentry-load's and oha's max runs alternate
# ROUNDS times (default 1) and the table shows each one's median, with the CPU time (user +
# system) each spent per request in those runs.
# Needs: nginx (Debian nginx-light), oha (`cargo install oha`), and it builds bench/goose-peer.
# Prints a Markdown table. Loopback only.
# Usage: [ROUNDS=n] scripts/bench-sender.sh [seconds per run]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
ROUNDS=${ROUNDS:-1}
WORK=$(mktemp -d /tmp/sl-bench.XXXX)
PORT=18080
KEY=0123456789abcdef0123456789abcdef
URL="http://127.0.0.1:$PORT/api/1/envelope/"
AUTH="Sentry sentry_version=7, sentry_client=bench/1, sentry_key=$KEY"
OHA=${OHA:-$(command -v oha || echo /opt/oha/bin/oha)}
log() { echo "bench: $*" >&2; }

cleanup() { [[ -f $WORK/nginx.pid ]] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; }
trap cleanup EXIT

cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:$PORT backlog=8192;
    location / { default_type application/json; return 200 '{"id":"9ec79c33ec9942ab8353589fcb2e04dc"}'; }
  }
}
CONF
taskset -c 1 nginx -c "$WORK/nginx.conf"
sleep 0.5

cargo build --release -q
SL=target/release/sentry-load
(cd bench/goose-peer && CARGO_TARGET_DIR=${GOOSE_TARGET:-/tmp/goose-target} cargo build --release -q)
GOOSE=${GOOSE_TARGET:-/tmp/goose-target}/release/goose-peer

profile() { # rate length give_up — length is `duration = "…"` or `count = …`
  cat > "$WORK/p.toml" <<TOML
seed = 1
[target]
kind = "relay"
dsn = "http://$KEY@127.0.0.1:$PORT/1"
[traffic]
rate = $1
$2
[send]
max_in_flight = 64
give_up_after = "$3"
TOML
}

# sentry-load run; prints "achieved_rate ratio p99_lateness_us peak_rss_kb cpu_us_per_send"
sl_run() { # rate length give_up
  profile "$@"
  local out; out=$(mktemp -d "$WORK/run.XXXX")
  /usr/bin/time -v -o "$out/time.txt" taskset -c 0 "$SL" run --profile "$WORK/p.toml" --no-verify --quiet --out "$out" >/dev/null 2>"$out/err.txt" || true
  python3 - "$out" <<'PY'
import json, glob, sys, re
out = sys.argv[1]
r = json.load(open(glob.glob(out + "/*/report.json")[0]))
s = r["sending"]
t = open(out + "/time.txt").read()
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)
cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", t).group(1)) for k in ("User", "System"))
print(f'{s["achieved_rate"]:.0f} {s["achieved_rate_ratio"]:.5f} {s["lateness_us"]["p99"]} {rss} {cpu / s["started"] * 1e6:.2f}')
PY
}

"$SL" generate --profile local --count 1 --out "$WORK/env" --start 2026-01-01T00:00:00Z 2>/dev/null
BODY=$(ls "$WORK"/env/*.envelope)
log "envelope: $(stat -c %s "$BODY") bytes; ${SECS}s per run"

# oha for SECS; prints "requests_per_second cpu_us_per_request"
oha_run() {
  taskset -c 0 /usr/bin/time -f "%U %S" -o "$WORK/oha-time.txt" "$OHA" -z "${SECS}s" -c 64 \
    --no-tui --output-format json -m POST -H "Content-Type: application/x-sentry-envelope" \
    -H "X-Sentry-Auth: $AUTH" -D "$BODY" "$URL" >"$WORK/oha.json"
  python3 - "$WORK/oha.json" "$WORK/oha-time.txt" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
user, system = map(float, open(sys.argv[2]).read().split())
requests = s["requestsPerSec"] * s["total"]
print(f'{s["requestsPerSec"]:.0f} {(user + system) / requests * 1e6:.2f}')
PY
}

median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

SL_MAXES=(); SL_CPUS=(); OHA_MAXES=(); OHA_CPUS=()
for round in $(seq "$ROUNDS"); do
  log "sentry-load max (round $round of $ROUNDS)"
  # Far more than it can send: every arrival waits for a free request slot, none is dropped,
  # and the achieved rate is the most it sends.
  read -r max _ _ _ cpu < <(sl_run 1000000 "count = $((SECS * 60000))" 1h)
  SL_MAXES+=("$max"); SL_CPUS+=("$cpu")
  log "oha max (round $round of $ROUNDS)"
  read -r max cpu < <(oha_run)
  OHA_MAXES+=("$max"); OHA_CPUS+=("$cpu")
done
SL_MAX=$(median "${SL_MAXES[@]}"); SL_MAX=${SL_MAX%.*}; SL_CPU=$(median "${SL_CPUS[@]}")
OHA_MAX=$(median "${OHA_MAXES[@]}"); OHA_CPU=$(median "${OHA_CPUS[@]}")
log "max envelopes/s per round: sentry-load ${SL_MAXES[*]}; oha ${OHA_MAXES[*]}"
log "goose max"
ENVELOPE_FILE=$BODY taskset -c 0 "$GOOSE" --host "http://127.0.0.1:$PORT" --users 64 --increase-rate 64 \
  --run-time "${SECS}s" --report-file "$WORK/goose.json" >"$WORK/goose.out" 2>&1
GOOSE_MAX=$(python3 - "$WORK/goose.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["raw_request_metrics"]
print(round(next(r["requests_per_second"] for r in rows if r["name"] == "Aggregated")))
PY
)
HALF=$((SL_MAX / 2)); NINETY=$((SL_MAX * 9 / 10))
log "sentry-load at 50 % ($HALF/s)"
read -r _ R50 L50 _ _ < <(sl_run "$HALF" "duration = \"${SECS}s\"" 5s)
log "sentry-load at 90 % ($NINETY/s)"
read -r _ R90 L90 _ _ < <(sl_run "$NINETY" "duration = \"${SECS}s\"" 5s)
log "sentry-load at 10,000/s"
read -r _ _ _ M10K _ < <(sl_run 10000 "duration = \"${SECS}s\"" 5s)
log "sentry-load at 200/s (sleeping between sends, then yielding up to each)"
read -r _ R200 L200 _ _ < <(sl_run 200 "duration = \"${SECS}s\"" 5s)

cat <<TABLE
| measure | sentry-load | oha | goose |
|---|---|---|---|
| max envelopes/s (64 in flight; median of $ROUNDS) | $SL_MAX | $OHA_MAX | $GOOSE_MAX |
| sentry-load / peer | 1 | $(python3 -c "print(f'{$SL_MAX/$OHA_MAX:.2f}')") | $(python3 -c "print(f'{$SL_MAX/$GOOSE_MAX:.2f}')") |
| CPU µs per request at max (user + system) | $SL_CPU | $OHA_CPU | |
| at 50 % of max ($HALF/s): achieved/target, p99 lateness | $R50, ${L50} µs | | |
| at 90 % of max ($NINETY/s): achieved/target, p99 lateness | $R90, ${L90} µs | | |
| peak RSS at 10,000/s | $((M10K / 1024)) MB | | |
| at 200/s: achieved/target, p99 lateness | $R200, ${L200} µs | | |
TABLE
log "work files in $WORK"
