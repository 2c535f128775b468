#!/usr/bin/env bash
# The whole suite: lint, types, then pytest against a real PostgreSQL and a real Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

bash scripts/setup-system.sh
# The IAB reference TCF library for the codec cross-check, exactly as pinned in its lockfile.
npm ci --prefix tests/tcf_reference --no-audit --no-fund --silent
"$BIN/ruff" check src tests bench examples
"$BIN/ruff" format --check src tests bench examples
"$BIN/mypy" --strict src examples

url=$(bash scripts/test-postgres.sh)
private=""
case "$url" in
  *"#private="*) private="${url##*#private=}"; url="${url%%#private=*}" ;;
esac
cleanup() { [ -n "$private" ] && bash scripts/test-postgres.sh stop "$private"; return 0; }
trap cleanup EXIT
export CONSENTGATE_TEST_PG_URL="$url"
"$BIN/pytest" --cov=consentgate --cov-report=term "$@"
