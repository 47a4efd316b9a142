#!/usr/bin/env bash
# The test command: starts the test services (installing them if needed), checks formatting
# and lints, then runs every test, including the ClickHouse- and Postgres-backed ones.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh >/dev/null            # installs and starts ClickHouse and Postgres
eval "$(scripts/services.sh --env)"   # exports SENTRY_LOAD_TEST_CLICKHOUSE_URL / _POSTGRES_URL

# Relay's own normalizer (PyPI sentry-relay), which generated events must pass.
if ! .venv/bin/python -c 'import sentry_relay' 2>/dev/null; then
  python3 -m venv .venv 2>/dev/null || {
    apt-get install -y -qq python3-venv >/dev/null && python3 -m venv .venv
  }
  .venv/bin/pip install -q --disable-pip-version-check sentry-relay
fi
export SENTRY_LOAD_TEST_RELAY_PYTHON=$PWD/.venv/bin/python

# Headless Chromium (the report.html screenshot test) and docker-compose (validates the
# compose overlays; no Docker engine needed).
for tool in chromium docker-compose; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    apt-get install -y -qq "$tool" >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null; }
  fi
done

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --all-targets
