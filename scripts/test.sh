#!/usr/bin/env bash
# The one test command (README): makes sure PostgreSQL is there, then runs
# every test. PostgreSQL tests create and drop their own databases; with
# CI=true they fail instead of skipping when the server is unreachable.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_url=${IMMUNIS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
if command -v pg_isready >/dev/null && ! pg_isready -q -d "$pg_url"; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL…"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -d "$pg_url" && break; sleep 1; done
  fi
fi

go vet ./...
# Everything once; the race detector over the packages with concurrency
# (the e2e suite then also builds the server with -race).
go test -count=1 -timeout 30m ./...
go test -count=1 -race -timeout 30m -run 'Concurrency|Race' ./e2e/ ./store/... ./loader/
