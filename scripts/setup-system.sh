#!/usr/bin/env bash
# Idempotent system set-up for the test suite: installs what is missing from Debian's packages.
# As root it installs; otherwise it stops at once and names the missing package.
# `setup-system.sh compiler` checks only what builds the C scanner module: a C compiler and the
# headers of $PYTHON (default python3).
set -euo pipefail

missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
"${PYTHON:-python3}" -c 'import os, sys, sysconfig
sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || missing+=(python3-dev)
if [ "${1:-}" != compiler ]; then  # the rest of the suite's needs
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  fc-list 2>/dev/null | grep -qi dejavu || missing+=(fonts-dejavu-core)
  if [ -z "${CONSENTGATE_TEST_PG_URL:-}" ] && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    # No server binaries: needed unless one already answers on 127.0.0.1:5432.
    if ! (command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432); then
      missing+=(postgresql)
    fi
  fi
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: missing Debian packages: ${missing[*]} — run as root or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "setup-system: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
