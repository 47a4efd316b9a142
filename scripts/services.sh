#!/usr/bin/env bash
# Installs (Debian packages) and starts the services the DB-backed tests use, idempotently:
#   ClickHouse on 127.0.0.1:8123 (HTTP), PostgreSQL 15 on 127.0.0.1:5432, and pgbouncer on
#   127.0.0.1:6432 in transaction pooling mode in front of it (as self-hosted Sentry reaches
#   Postgres: getsentry/self-hosted docker-compose.yml, service `pgbouncer`, POOL_MODE
#   transaction, at commit 89a143f8e4d396a858cf6f462a832ae7da9fd2db), and Redis on
#   127.0.0.1:6379 (self-hosted's `redis` service; the pipeline probes sample it).
# Safe to run again: it only installs what is missing and only starts what is not answering.
# Prints the environment the tests read; `source <(scripts/services.sh --env)` exports it.
set -euo pipefail

CH_URL=${SENTRY_LOAD_TEST_CLICKHOUSE_URL:-http://127.0.0.1:8123}
PG_URL=${SENTRY_LOAD_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PGB_URL=${SENTRY_LOAD_TEST_PGBOUNCER_URL:-postgres://postgres@127.0.0.1:6432/postgres}
PGB_DIR=${SENTRY_LOAD_PGBOUNCER_DIR:-/var/lib/sentry-load-pgbouncer}
REDIS_URL=${SENTRY_LOAD_TEST_REDIS_URL:-redis://127.0.0.1:6379}
REDIS_DIR=${SENTRY_LOAD_REDIS_DIR:-/var/lib/sentry-load-redis}

print_env() {
  echo "export SENTRY_LOAD_TEST_CLICKHOUSE_URL=$CH_URL"
  echo "export SENTRY_LOAD_TEST_POSTGRES_URL=$PG_URL"
  echo "export SENTRY_LOAD_TEST_PGBOUNCER_URL=$PGB_URL"
  echo "export SENTRY_LOAD_TEST_REDIS_URL=$REDIS_URL"
}
if [[ "${1:-}" == "--env" ]]; then print_env; exit 0; fi

# Only the exports go to stdout; whatever the tools print (apt, pg_ctlcluster's
# "Removed stale pid file", the daemons) goes to stderr, so `eval "$(scripts/services.sh)"` is safe.
exec 3>&1 1>&2

log() { echo "services: $*" >&2; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
need_pkg() { # package...
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $apt_updated -eq 0 ]]; then as_root apt-get update -qq; apt_updated=1; fi
  log "installing ${missing[*]}"
  # The packages try to start their service and fail without an init system: that is expected.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || true
  for p in "${missing[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || { log "could not install $p"; exit 1; }; done
}

wait_for() { # description seconds command...
  local what=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  log "$what did not come up within ${secs}s"; return 1
}

ch_up() { curl -fsS "http://127.0.0.1:8123/?query=SELECT%201" 2>/dev/null | grep -q 1; }
start_clickhouse() {
  need_pkg curl clickhouse-server clickhouse-client
  if ch_up; then log "clickhouse already answering"; return; fi
  as_root mkdir -p /var/lib/clickhouse /var/log/clickhouse-server /var/run/clickhouse-server
  as_root chown -R clickhouse:clickhouse /var/lib/clickhouse /var/log/clickhouse-server /var/run/clickhouse-server
  log "starting clickhouse-server"
  as_root su -s /bin/sh clickhouse -c \
    "clickhouse-server --config-file=/etc/clickhouse-server/config.xml --daemon --pid-file=/var/run/clickhouse-server/clickhouse-server.pid" >&2
  wait_for clickhouse 60 ch_up
  log "clickhouse $(curl -fsS 'http://127.0.0.1:8123/?query=SELECT%20version()')"
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
start_postgres() {
  need_pkg postgresql
  local ver conf_dir
  ver=$(ls /etc/postgresql | sort -n | tail -n1)
  conf_dir=/etc/postgresql/$ver/main
  # Tests connect over TCP as postgres without a password: trust loopback only.
  if ! grep -q '^host all postgres 127.0.0.1/32 trust' "$conf_dir/pg_hba.conf"; then
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$conf_dir/pg_hba.conf"
    pg_up && as_root pg_ctlcluster "$ver" main reload
  fi
  if pg_up; then log "postgres already answering"; return; fi
  log "starting postgresql $ver"
  as_root pg_ctlcluster "$ver" main start
  wait_for postgres 60 pg_up
  log "postgres $(psql -At "$PG_URL" -c 'SHOW server_version')"
}

pgb_up() { psql -At "$PGB_URL" -c 'SELECT 1' 2>/dev/null | grep -q 1; }
start_pgbouncer() {
  need_pkg pgbouncer
  if pgb_up; then log "pgbouncer already answering"; return; fi
  # The package's own pgbouncer (if an init system started it) holds the port with another
  # config: stop it.
  [[ -x /etc/init.d/pgbouncer ]] && as_root /etc/init.d/pgbouncer stop >/dev/null 2>&1 || true
  # Its own config, not the package's: transaction pooling, any database routed to the
  # test Postgres, trust on loopback (as self-hosted's AUTH_TYPE trust).
  # `server_reset_query_always` runs DISCARD ALL whenever a server connection goes back to
  # the pool, so session state (a named prepared statement) never survives a transaction:
  # what a busy pool does by chance (the next transaction lands on another server
  # connection) happens every time, and a client that relies on it fails every time.
  as_root mkdir -p "$PGB_DIR"
  as_root tee "$PGB_DIR/pgbouncer.ini" >/dev/null <<INI
[databases]
* = host=127.0.0.1 port=5432
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = 6432
unix_socket_dir =
auth_type = trust
auth_file = $PGB_DIR/userlist.txt
pool_mode = transaction
server_reset_query = DISCARD ALL
server_reset_query_always = 1
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
logfile = $PGB_DIR/pgbouncer.log
pidfile = $PGB_DIR/pgbouncer.pid
INI
  echo '"postgres" ""' | as_root tee "$PGB_DIR/userlist.txt" >/dev/null
  as_root chown -R postgres:postgres "$PGB_DIR"
  log "starting pgbouncer"
  as_root su -s /bin/sh postgres -c "pgbouncer -d $PGB_DIR/pgbouncer.ini" >&2
  wait_for pgbouncer 30 pgb_up
  log "pgbouncer $(pgbouncer --version | head -n1) on 127.0.0.1:6432, transaction pooling"
}

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
start_redis() {
  need_pkg redis-server
  if redis_up; then log "redis already answering"; return; fi
  # Its own small config: loopback only, no persistence, a memory cap with LRU eviction (as
  # an operator's cache Redis), so a probe's `evicted_keys` can be driven in a test.
  as_root mkdir -p "$REDIS_DIR"
  as_root chown redis:redis "$REDIS_DIR"
  log "starting redis-server"
  as_root su -s /bin/sh redis -c "redis-server --bind 127.0.0.1 --port 6379 --daemonize yes \
    --dir $REDIS_DIR --save '' --appendonly no --maxmemory 64mb --maxmemory-policy allkeys-lru \
    --logfile $REDIS_DIR/redis.log --pidfile $REDIS_DIR/redis.pid" >&2
  wait_for redis 30 redis_up
  log "redis $(redis-cli -h 127.0.0.1 -p 6379 info server | grep -m1 redis_version | tr -d '\r')"
}

start_clickhouse
start_postgres
start_pgbouncer
start_redis
print_env >&3
