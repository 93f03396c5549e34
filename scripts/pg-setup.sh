#!/usr/bin/env bash
# Make the PostgreSQL fixture server usable by the tests (idempotent).
#
# 1. start the local Debian cluster if nothing answers on 127.0.0.1:5432;
# 2. make sure role `dmexp` (LOGIN SUPERUSER, password `dmexp`) exists;
# 3. make sure a password login from 127.0.0.1 works (adds one pg_hba.conf line if not).
# The tests then connect with `Server=127.0.0.1;Port=5432;UID=dmexp;PWD=dmexp` and never
# rely on trust authentication. Uses sudo only when not root.
set -euo pipefail

HOST=127.0.0.1
PORT=${DMEXP_PG_PORT:-5432}          # overridable only to test this script on a spare cluster
CLUSTER=${DMEXP_PG_CLUSTER:-main}
ROLE=dmexp
PASSWORD=dmexp

die() { echo "pg-setup: $*" >&2; exit 1; }

for tool in psql pg_isready pg_ctlcluster; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool not found; run scripts/install-deps.sh (Debian package postgresql)"
done

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}
as_postgres() {
    # cd / first: PostgreSQL tools complain when the postgres user cannot read the cwd.
    (
        cd /
        if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
    )
}
psql_superuser() {
    # Local socket as the postgres OS user: peer authentication on a stock Debian cluster.
    as_postgres env PGOPTIONS='-c client_min_messages=warning' \
        psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres "$@"
}
dmexp_can_login() {
    PGPASSWORD=$PASSWORD PGCONNECT_TIMEOUT=5 psql -X -q -At -h "$HOST" -p "$PORT" -U "$ROLE" \
        -d postgres -c 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user' \
        2>/dev/null | grep -qx t
}

# 1. Server running?
if ! pg_isready -q -h "$HOST" -p "$PORT"; then
    # shellcheck disable=SC2012  # directory names are PostgreSQL versions
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -z $version ]]; then
        # shellcheck disable=SC2012
        version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
        [[ -n $version ]] || die "no PostgreSQL installation found under /usr/lib/postgresql"
        echo "pg-setup: creating cluster $version/$CLUSTER"
        as_root pg_createcluster "$version" "$CLUSTER" >/dev/null
    fi
    echo "pg-setup: starting PostgreSQL cluster $version/$CLUSTER"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$CLUSTER" start
    for _ in $(seq 1 60); do
        pg_isready -q -h "$HOST" -p "$PORT" && break
        sleep 0.5
    done
    pg_isready -q -h "$HOST" -p "$PORT" ||
        die "PostgreSQL did not accept connections on $HOST:$PORT within 30 s"
fi

# 2. + 3. Role and password login. Fast path: nothing to do.
dmexp_can_login && exit 0

echo "pg-setup: creating/updating role $ROLE"
psql_superuser <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN SUPERUSER PASSWORD '$PASSWORD';
    ELSE
        ALTER ROLE $ROLE LOGIN SUPERUSER PASSWORD '$PASSWORD';
    END IF;
END
\$\$;
SQL
dmexp_can_login && exit 0

# pg_hba.conf does not let a password login from 127.0.0.1 through (e.g. ident/reject).
# Put one rule for our role first; `md5` also accepts SCRAM-hashed passwords.
hba=$(psql_superuser -At -c 'SHOW hba_file')
rule="host all $ROLE $HOST/32 md5"
if ! as_postgres grep -qxF "$rule" "$hba"; then
    echo "pg-setup: adding '$rule' to $hba"
    as_postgres sed -i "1i $rule" "$hba"
fi
psql_superuser -c 'SELECT pg_reload_conf()' >/dev/null
sleep 0.5
dmexp_can_login || die "role $ROLE still cannot log in with a password on $HOST:$PORT (see $hba)"
