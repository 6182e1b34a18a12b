#!/usr/bin/env bash
# Installs what the PostgreSQL sink's tests need, from Debian, when missing:
#   postgresql-15   initdb/postgres/psql in /usr/lib/postgresql/15/bin (tests/src/pg.rs starts
#                   its own server in a temp dir; the package's own cluster is not used)
#   prometheus      for `promtool check rules` on deploy/prometheus/hookd-alerts.yml
# Needs root (CI and the dev machines run as root); otherwise it says what is missing and
# exits 0: the tests then print SKIPPED for what they cannot run.
set -euo pipefail

missing=()
[[ -x /usr/lib/postgresql/15/bin/postgres ]] || missing+=(postgresql-15)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-pg.sh: postgresql-15 and promtool present" >&2
    exit 0
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-pg.sh: missing ${missing[*]} and cannot apt-get install here; those tests will be SKIPPED" >&2
    exit 0
fi
echo "install-pg.sh: installing ${missing[*]}" >&2
# Installing must not start the packages' services (the postgresql cluster on 5432, the
# Prometheus server on 9090): a policy-rc.d that refuses, unless the machine has its own.
policy=/usr/sbin/policy-rc.d
ours=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    ours=1
fi
trap '[[ $ours == 1 ]] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >&2
