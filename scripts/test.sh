#!/usr/bin/env bash
# The test command: starts the test services (installing them if needed), checks formatting
# and lints, then runs every test, including the ClickHouse- and Postgres-backed ones.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh >/dev/null            # installs and starts ClickHouse, Postgres, pgbouncer, Redis
eval "$(scripts/services.sh --env)"   # exports SENTRY_LOAD_TEST_{CLICKHOUSE,POSTGRES,PGBOUNCER,REDIS}_URL

# Real Sentry components from PyPI, in .venv: Relay's own normalizer (sentry-relay), which
# generated events must pass; Sentry's Python SDK (sentry-sdk) and sentry-cli, whose events
# and uploads the sim must take; ClickHouse 26 in-process (chdb-core), where the verifier's
# queries run against Snuba's own tables; and the Prometheus client's OpenMetrics parser
# (prometheus-client), which reads the live metrics endpoint.
if ! .venv/bin/python -c 'import sentry_relay, sentry_sdk, chdb, prometheus_client' 2>/dev/null \
    || [[ ! -x .venv/bin/sentry-cli ]]; then
  python3 -m venv .venv 2>/dev/null || {
    apt-get install -y -qq python3-venv >/dev/null && python3 -m venv .venv
  }
  .venv/bin/pip install -q --disable-pip-version-check sentry-relay sentry-sdk sentry-cli chdb-core \
    prometheus-client
fi
export SENTRY_LOAD_TEST_RELAY_PYTHON=$PWD/.venv/bin/python
export SENTRY_LOAD_TEST_PYTHON=$PWD/.venv/bin/python
export SENTRY_LOAD_TEST_SENTRY_CLI=$PWD/.venv/bin/sentry-cli

# Headless Chromium (the report.html screenshot test) and docker-compose (validates the
# compose overlays; no Docker engine needed).
for tool in chromium docker-compose; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    apt-get install -y -qq "$tool" >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null; }
  fi
done

# Test containers are built FROM scratch (no registry is reached): Debian's busybox-static
# for their shell, and the project's own binary linked statically.
if ! dpkg -s busybox-static >/dev/null 2>&1; then
  apt-get install -y -qq busybox-static >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq busybox-static >/dev/null; }
fi
export SENTRY_LOAD_TEST_BUSYBOX=/bin/busybox
RUSTFLAGS="-C target-feature=+crt-static -C strip=debuginfo" cargo build --quiet --bin sentry-load \
  --target x86_64-unknown-linux-gnu --target-dir target/static
export SENTRY_LOAD_TEST_STATIC_BIN=$PWD/target/static/x86_64-unknown-linux-gnu/debug/sentry-load

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# Tests that need the services or tools above are #[ignore]d: a plain `cargo test` lists them
# as ignored; here they run, and fail if what they need is missing.
cargo test --workspace --all-targets -- --include-ignored
