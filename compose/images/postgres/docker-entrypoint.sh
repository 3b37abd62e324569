#!/bin/sh
# dkenv PostgreSQL entrypoint: the official image's contract, made fast.
#
#   POSTGRES_USER (default postgres)      superuser to create (or whose password to set)
#   POSTGRES_PASSWORD / _FILE             its password (required unless POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_DB (default $POSTGRES_USER)  database to create, owned by POSTGRES_USER
#   POSTGRES_HOST_AUTH_METHOD             method of the `host all all all` pg_hba line (scram-sha-256)
#   PGDATA (/var/lib/postgresql/data)     cluster directory; initialised at build time, or here if
#                                         an empty volume is mounted over it
#   /docker-entrypoint-initdb.d/*.sql|.sql.gz|.sh   run once, before the server accepts clients
#   `docker run IMAGE -c key=value` or `IMAGE postgres -c key=value`: extra server options
#
# Credentials are applied with `postgres --single` (no socket, no TCP listener) BEFORE the real
# server starts, so "database system is ready to accept connections" (printed by PostgreSQL
# itself, once) always means the password login works. The server is exec'd: it is PID 1,
# running as the postgres user; `docker stop` sends SIGINT (fast shutdown).
#
# Speed: on the usual path (cluster from the image, no init scripts) this script starts exactly
# one process before the server, `postgres --single`; every other step is a shell builtin.
set -eu

log() { printf 'dkenv-entrypoint: %s\n' "$*" >&2; }
die() { printf 'dkenv-entrypoint: error: %s\n' "$*" >&2; exit 1; }

# file_env VAR [DEFAULT]: VAR, or the content of the file named by VAR_FILE, or DEFAULT.
file_env() {
    _var=$1; _def=${2:-}
    eval "_val=\${$_var:-}"; eval "_fval=\${${_var}_FILE:-}"
    if [ -n "$_val" ] && [ -n "$_fval" ]; then die "both $_var and ${_var}_FILE are set (they are exclusive)"; fi
    if [ -n "$_fval" ]; then _val=$(cat "$_fval"); elif [ -z "$_val" ]; then _val=$_def; fi
    export "$_var=$_val"
    unset "${_var}_FILE" || true
}

# SQL quoting without a fork in the common case (no quote characters in the value).
sql_ident() { case $1 in *'"'*) printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')" ;; *) printf '"%s"' "$1" ;; esac; }
sql_literal() { case $1 in *"'"*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")" ;; *) printf "'%s'" "$1" ;; esac; }

# The effective uid, without a fork.
uid=""
while read -r _k _real _eff _rest; do
    if [ "$_k" = "Uid:" ]; then uid=$_eff; break; fi
done < /proc/self/status

# as_pg CMD...: run CMD as postgres (we may be root or postgres).
as_pg() {
    if [ "$uid" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi
}

has_init_scripts() {
    for _f in /docker-entrypoint-initdb.d/*; do
        [ -e "$_f" ] && return 0
        break
    done
    return 1
}

marker="$PGDATA/.dkenv-setup-done"
seed=/usr/local/share/dkenv/seed  # the cluster initialised at build time (see the Dockerfile)

# `docker run IMAGE -c fsync=on` means `postgres -c fsync=on`, as in the official image.
if [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ] && [ -s "$seed/PG_VERSION" ] \
   && [ -z "$(ls -A "$PGDATA" 2>/dev/null)" ]; then
    # An empty tmpfs or volume over $PGDATA: a copy of the image's cluster (~40 MB, a few
    # tens of ms) instead of a new initdb (~1 s).
    mkdir -p "$PGDATA"
    cp -a "$seed/." "$PGDATA/"
    if [ "$uid" = 0 ]; then chown postgres:postgres "$PGDATA"; fi
    chmod 0700 "$PGDATA"
fi

if [ "$1" = postgres ] && [ "$uid" = 0 ]; then
    export HOME=/var/lib/postgresql
    if [ -O "$PGDATA" ]; then
        # Root's: a tmpfs Podman filled with the image's files (its "tmpcopyup"), or a new mount.
        chown postgres:postgres "$PGDATA"
        chmod 0700 "$PGDATA"
    fi
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        # An empty volume over $PGDATA: it must belong to postgres.
        mkdir -p "$PGDATA"
        chown postgres:postgres "$PGDATA"
        chmod 0700 "$PGDATA"
    fi
    if [ ! -d /var/run/postgresql ]; then
        mkdir -p /var/run/postgresql
        chown postgres:postgres /var/run/postgresql
        chmod 3777 /var/run/postgresql
    fi
    if [ ! -e "$marker" ] && { [ ! -s "$PGDATA/PG_VERSION" ] || has_init_scripts; }; then
        # The slow paths (initdb, init scripts) run entirely as postgres: run this script again.
        exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
    fi
fi

if [ "$1" = postgres ] && [ ! -e "$marker" ]; then
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}

    if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
        die "the database is uninitialised and no superuser password is set.
    Set POSTGRES_PASSWORD (e.g. -e POSTGRES_PASSWORD=secret), or POSTGRES_HOST_AUTH_METHOD=trust
    to allow every connection without a password (never outside a throwaway test)."
    fi

    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        # An empty volume over $PGDATA (we run as postgres here): initialise it now (~1 s).
        log "initialising a new cluster in $PGDATA"
        initdb -D "$PGDATA" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
               --auth-local=trust --auth-host=scram-sha-256 --wal-segsize=1 --no-sync >/dev/null
        cat /usr/local/share/dkenv/postgresql.dkenv.conf >> "$PGDATA/postgresql.conf"
        cp /usr/local/share/dkenv/pg_hba.conf "$PGDATA/pg_hba.conf"
        printf 'CREATE DATABASE dkenv_spare;\n\n' | postgres --single -j -D "$PGDATA" postgres >/dev/null
    fi

    if [ "$auth" != scram-sha-256 ]; then
        as_pg sed -i "s/^\(host[[:space:]].*[[:space:]]\)scram-sha-256\$/\1$auth/" "$PGDATA/pg_hba.conf"
        if [ "$auth" = trust ]; then
            log "POSTGRES_HOST_AUTH_METHOD=trust: every TCP client may connect without a password"
        fi
    fi

    # The statements for single-user mode (-j: each ends with a semicolon and an empty line).
    user=$(sql_ident "$POSTGRES_USER")
    pass=""
    if [ -n "$POSTGRES_PASSWORD" ]; then pass=" PASSWORD $(sql_literal "$POSTGRES_PASSWORD")"; fi
    nl='
'
    if [ "$POSTGRES_USER" = postgres ]; then
        sql=""
        if [ -n "$pass" ]; then sql="ALTER ROLE postgres WITH$pass;$nl$nl"; fi
    else
        sql="CREATE ROLE $user WITH SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS LOGIN$pass;$nl$nl"
    fi
    if [ "$POSTGRES_DB" = postgres ]; then
        sql="${sql}DROP DATABASE dkenv_spare;$nl$nl"
    else
        db=$(sql_ident "$POSTGRES_DB")
        # Renaming the prepared spare database is a catalog update: far faster than CREATE DATABASE.
        sql="${sql}ALTER DATABASE dkenv_spare RENAME TO $db;$nl${nl}ALTER DATABASE $db OWNER TO $user;$nl$nl"
    fi
    rc=0
    err=$(as_pg postgres --single -j -D "$PGDATA" postgres 2>&1 >/dev/null <<EOF
$sql
EOF
) || rc=$?
    case "$rc:$err" in
        0:*ERROR:*|0:*FATAL:*|0:*PANIC:*|[1-9]*)
            printf '%s\n' "$err" >&2
            die "could not apply POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB (see above)"
            ;;
    esac

    # Scripts in /docker-entrypoint-initdb.d run against a socket-only temporary server, once
    # (as postgres: a root caller re-ran this script as postgres above).
    if has_init_scripts; then
        pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
        export PGUSER="$POSTGRES_USER" PGDATABASE="$POSTGRES_DB" PGHOST=/var/run/postgresql
        for f in /docker-entrypoint-initdb.d/*; do
            case "$f" in
                *.sh)     log "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
                *.sql)    log "running $f"; psql -v ON_ERROR_STOP=1 --no-psqlrc -q -f "$f" ;;
                *.sql.gz) log "running $f"; gunzip -c "$f" | psql -v ON_ERROR_STOP=1 --no-psqlrc -q ;;
                *)        log "ignoring $f" ;;
            esac
        done
        unset PGUSER PGDATABASE PGHOST
        pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi

    : > "$marker"
    log "user \"$POSTGRES_USER\" and database \"$POSTGRES_DB\" ready; starting PostgreSQL"
fi

if [ "$1" = postgres ] && [ "$uid" = 0 ]; then
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
fi
exec "$@"
