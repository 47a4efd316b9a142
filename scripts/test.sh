#!/usr/bin/env bash
# The test command: starts the test services (installing them if needed), checks formatting
# and lints, then runs every test, including the ClickHouse- and Postgres-backed ones.
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(scripts/services.sh)"   # exports SENTRY_LOAD_TEST_CLICKHOUSE_URL / _POSTGRES_URL

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --all-targets
