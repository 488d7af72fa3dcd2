#!/usr/bin/env bash
# Make sure RabbitMQ (127.0.0.1:5672) and PostgreSQL (127.0.0.1:5432) answer: start them when they are
# installed but down, fail with a message naming what to start when they are absent.
set -u
RABBIT_PORT=${RABBIT_PORT:-5672}
PG_PORT=${PG_PORT:-5432}
PG_WAIT=${PG_WAIT:-30}          # seconds to wait for a server we started
RABBIT_WAIT=${RABBIT_WAIT:-90}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {  # port seconds
  for _ in $(seq 1 "$2"); do listening "$1" && return 0; sleep 1; done
  return 1
}

if ! listening "$PG_PORT"; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is down: starting it"
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
  fi
  if ! wait_port "$PG_PORT" "$PG_WAIT"; then
    echo "ERROR: PostgreSQL is not reachable on 127.0.0.1:$PG_PORT and could not be started here." >&2
    echo "       Install and start it (Debian: apt-get install postgresql; trust auth for 127.0.0.1)." >&2
    exit 1
  fi
fi

if ! listening "$RABBIT_PORT"; then
  if command -v rabbitmq-server >/dev/null 2>&1; then
    echo "RabbitMQ is down: starting it"
    rabbitmq-server -detached || true
  fi
  if ! wait_port "$RABBIT_PORT" "$RABBIT_WAIT"; then
    echo "ERROR: RabbitMQ is not reachable on 127.0.0.1:$RABBIT_PORT and could not be started here." >&2
    echo "       Install and start it (Debian: apt-get install rabbitmq-server; user guest/guest)." >&2
    exit 1
  fi
fi
# The port may open before the broker accepts AMQP sessions: wait until it does.
if [ "$RABBIT_PORT" = 5672 ] && command -v rabbitmqctl >/dev/null 2>&1; then
  timeout 90 rabbitmqctl await_startup >/dev/null 2>&1 || true
fi
echo "infra: PostgreSQL :$PG_PORT and RabbitMQ :$RABBIT_PORT are up"

# promtool (Debian's prometheus package) checks deploy/prometheus in the tests.
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool is missing: installing Debian's prometheus package"
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q prometheus >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q prometheus >/dev/null 2>&1; } || true
  fi
  command -v promtool >/dev/null 2>&1 || echo "WARNING: promtool could not be installed; the monitoring tests will fail naming it" >&2
fi

# Chromium and its driver (Debian's packages) run the web app's browser tests (tests/browser).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "chromium or chromedriver is missing: installing Debian's chromium and chromium-driver packages"
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; } || true
  fi
  command -v chromedriver >/dev/null 2>&1 || echo "WARNING: chromium could not be installed; the browser tests will fail naming it" >&2
fi
