#!/usr/bin/env bash
# pretix's side of the booking-rush comparison (README, "Booking rush"): installs pretix in its own virtualenv outside
# the repository, sets it up on the local PostgreSQL and Redis, serves it as its documentation describes for
# production (gunicorn with sync workers, and a Celery worker) and sends the rush's load with Atlas's own load
# generator (tests/perf/load.py, through rush.py). Results: tests/perf/results/pretix_rush.json.
#
# Settings (environment):
#   PRETIX_HOME     virtualenv, configuration, data and logs (default /tmp/atlas-pretix)
#   PRETIX_VERSION  the pretix release installed from PyPI (2026.8.0)
#   PRETIX_PYTHON   the interpreter the virtualenv is made with (python3; pretix needs 3.11 or newer)
#   PRETIX_DB       the PostgreSQL database, dropped and made again on 127.0.0.1:5432 as user postgres (pretix_bench)
#   PRETIX_REDIS_DB the Redis database number on 127.0.0.1:6379 for cache, sessions and Celery; emptied at the start
#                   (5)
#   PRETIX_PORT     the port gunicorn listens on at 127.0.0.1 (8345)
#   WORKERS         gunicorn's sync workers (2)
#   RUNS            rush runs, each on its own item with a fresh quota of 24 (3)
#   ATLAS_PYTHON    the interpreter that runs the load (the repository's .venv/bin/python, else python3; needs httpx)
#   KEEP_DB=1       keeps the database at the end, to look at the orders
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
PRETIX_HOME="${PRETIX_HOME:-/tmp/atlas-pretix}"
PRETIX_VERSION="${PRETIX_VERSION:-2026.8.0}"
PRETIX_PYTHON="${PRETIX_PYTHON:-python3}"
PRETIX_DB="${PRETIX_DB:-pretix_bench}"
PRETIX_REDIS_DB="${PRETIX_REDIS_DB:-5}"
PRETIX_PORT="${PRETIX_PORT:-8345}"
WORKERS="${WORKERS:-2}"
RUNS="${RUNS:-3}"
KEEP_DB="${KEEP_DB:-0}"
if [ -z "${ATLAS_PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then ATLAS_PYTHON="$ROOT/.venv/bin/python"; else ATLAS_PYTHON=python3; fi
fi

if [ "$PRETIX_REDIS_DB" = 0 ]; then
  echo "PRETIX_REDIS_DB must not be 0 (the script empties it)" >&2
  exit 2
fi

VENV="$PRETIX_HOME/venv"
PY="$VENV/bin/python"
DATA="$PRETIX_HOME/data"
LOGS="$PRETIX_HOME/logs"
CFG="$PRETIX_HOME/pretix.cfg"
SEED="$PRETIX_HOME/seed.json"
BASE="http://127.0.0.1:$PRETIX_PORT"
mkdir -p "$PRETIX_HOME" "$LOGS"

# --- pretix in its own virtualenv --------------------------------------------------------------------
if [ ! -x "$PY" ]; then
  echo "making the virtualenv $VENV"
  "$PRETIX_PYTHON" -m venv "$VENV"
fi
installed="$("$PY" -c 'import importlib.metadata as m; print(m.version("pretix"))' 2>/dev/null || true)"
if [ "$installed" != "$PRETIX_VERSION" ] || [ ! -x "$VENV/bin/gunicorn" ]; then
  echo "installing pretix $PRETIX_VERSION and gunicorn from PyPI"
  "$PY" -m pip install --quiet --disable-pip-version-check "pretix==$PRETIX_VERSION" gunicorn
fi

# --- configuration, database, Redis ------------------------------------------------------------------
[ -s "$PRETIX_HOME/secret" ] || "$PY" -c 'import secrets; print(secrets.token_urlsafe(48))' > "$PRETIX_HOME/secret"
rm -rf "$DATA"
mkdir -p "$DATA"
sed -e "s|@PORT@|$PRETIX_PORT|g" -e "s|@DATA_DIR@|$DATA|g" -e "s|@DB_NAME@|$PRETIX_DB|g" \
    -e "s|@REDIS_DB@|$PRETIX_REDIS_DB|g" -e "s|@SECRET@|$(cat "$PRETIX_HOME/secret")|g" \
    "$HERE/pretix.cfg.in" > "$CFG"
export PRETIX_CONFIG_FILE="$CFG" DJANGO_SETTINGS_MODULE=pretix.settings PYTHONUNBUFFERED=1

psql_admin() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 -qAtc "$1"; }
psql_admin "DROP DATABASE IF EXISTS \"$PRETIX_DB\" WITH (FORCE)"
psql_admin "CREATE DATABASE \"$PRETIX_DB\""
redis-cli -h 127.0.0.1 -p 6379 -n "$PRETIX_REDIS_DB" flushdb > /dev/null

echo "migrating the database $PRETIX_DB"
(cd "$PRETIX_HOME" && "$PY" -m pretix migrate --noinput > "$LOGS/migrate.log" 2>&1) \
  || { tail -30 "$LOGS/migrate.log" >&2; exit 1; }
# No `pretix rebuild`: it compiles the static files and translations of the web pages, which the REST API does
# not use.
(cd "$PRETIX_HOME" && "$PY" "$HERE/seed.py" --runs "$RUNS" > "$SEED")

# --- the servers -------------------------------------------------------------------------------------
PIDS=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  if [ "$KEEP_DB" != 1 ]; then
    psql_admin "DROP DATABASE IF EXISTS \"$PRETIX_DB\" WITH (FORCE)" || true
  fi
  redis-cli -h 127.0.0.1 -p 6379 -n "$PRETIX_REDIS_DB" flushdb > /dev/null || true
  exit "$status"
}
trap cleanup EXIT INT TERM

# Each in its own process group (setsid), so the trap stops it with all its children.
cd "$PRETIX_HOME"
setsid "$VENV/bin/celery" -A pretix.celery_app worker -l info > "$LOGS/celery.log" 2>&1 &
PIDS+=($!)
setsid "$VENV/bin/gunicorn" pretix.wsgi --name pretix --workers "$WORKERS" --worker-class sync \
  --max-requests 1200 --max-requests-jitter 50 --log-level info --bind "127.0.0.1:$PRETIX_PORT" \
  > "$LOGS/gunicorn.log" 2>&1 &
PIDS+=($!)
cd "$ROOT"

TOKEN="$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["token"])' "$SEED")"
echo "waiting for pretix on $BASE"
for i in $(seq 120); do
  if curl -fs -o /dev/null -H "Authorization: Token $TOKEN" "$BASE/api/v1/organizers/"; then break; fi
  if [ "$i" = 120 ]; then echo "pretix did not answer; see $LOGS" >&2; tail -20 "$LOGS/gunicorn.log" >&2; exit 1; fi
  sleep 1
done

SERVER="$("$PY" -c 'import json, platform, sys
print(json.dumps({"product": f"pretix {sys.argv[1]}", "server": f"gunicorn pretix.wsgi, {sys.argv[2]} sync workers",
                  "celery": "1 worker (default concurrency)", "database": f"PostgreSQL {sys.argv[3]}",
                  "redis": sys.argv[4], "python": platform.python_version()}))' \
  "$PRETIX_VERSION" "$WORKERS" "$(psql_admin 'SHOW server_version')" "redis://127.0.0.1:6379/$PRETIX_REDIS_DB")"
echo "pretix $PRETIX_VERSION on $BASE ($WORKERS sync workers); $(date)"
"$ATLAS_PYTHON" "$HERE/rush.py" --base "$BASE" --seed "$SEED" --server "$SERVER" \
  --redis "redis://127.0.0.1:6379/$PRETIX_REDIS_DB"
