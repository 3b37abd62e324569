#!/bin/sh
# dkenv MariaDB entrypoint: the official mysql/mariadb images' contract, made fast.
#
#   MYSQL_ROOT_PASSWORD          root's password, for root@localhost and root@'%' (MYSQL_ROOT_HOST)
#   MYSQL_ALLOW_EMPTY_PASSWORD   any non-empty value: root has no password
#   MYSQL_RANDOM_ROOT_PASSWORD   any non-empty value: a random one, printed as GENERATED ROOT PASSWORD
#   MYSQL_DATABASE               database to create
#   MYSQL_USER / MYSQL_PASSWORD  user@'%' to create, with ALL on MYSQL_DATABASE; and, unlike the
#                                official images, ALL ON *.* WITH GRANT OPTION, because dkenv
#                                creates one database per schema in these throwaway servers
#                                (DKENV_MYSQL_USER_GLOBAL=0 restricts it to MYSQL_DATABASE)
# Each also as MARIADB_* (which wins; MARIADB_ALLOW_EMPTY_ROOT_PASSWORD for the empty password)
# and as *_FILE. /docker-entrypoint-initdb.d/*.sql|.sql.gz|.sh run once, before the real server
# starts. `docker run IMAGE --key=value` passes options to the server.
#
# Credentials go into an --init-file that MariaDB runs at startup before it accepts its first
# client (clients that connect earlier wait in the listen backlog), so the server's own
# "ready for connections" line always means that the credentials work.
#
# "ready for connections" and testcontainers: the official images start a temporary server to
# initialise, then restart, so their log shows that line TWICE, and testcontainers'
# MySqlContainer waits for two by default (wait_strategy_check_string=
# r".*: ready for connections.*: ready for connections.*"). This image does not restart: MariaDB
# prints the line ONCE. So that such clients work unchanged, a watcher started here prints a
# second line, "dkenv-entrypoint: ready for connections (...)", only AFTER the server answers on
# its socket (i.e. after the init-file has run); it also deletes the init-file (it holds the
# passwords). With /docker-entrypoint-initdb.d scripts a temporary socket-only server runs them
# first, as in the official images, and the two lines come from the two servers.
set -eu

# Everything goes to stderr, like the server's own log (clients such as testcontainers search
# one stream at a time for the "ready for connections" lines).
log() { printf '%s 0 [Note] dkenv-entrypoint: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$*" >&2; }
error() { printf '%s 0 [ERROR] dkenv-entrypoint: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$*" >&2; }
die() { error "$@"; exit 1; }

# mdb_env VAR [DEFAULT] [MYSQL_NAME]: MARIADB_VAR, MARIADB_VAR_FILE, MYSQL_VAR (or MYSQL_NAME),
# MYSQL_VAR_FILE, or DEFAULT; exported as MARIADB_VAR.
mdb_env() {
    _var=$1; _def=${2:-}; _my=${3:-MYSQL_$1}
    _val=""
    for _n in "MARIADB_$_var" "$_my"; do
        eval "_v=\${$_n:-}"; eval "_f=\${${_n}_FILE:-}"
        if [ -n "$_v" ] && [ -n "$_f" ]; then die "both $_n and ${_n}_FILE are set (they are exclusive)"; fi
        if [ -n "$_f" ]; then _v=$(cat "$_f"); fi
        if [ -n "$_v" ]; then _val=$_v; break; fi
    done
    [ -n "$_val" ] || _val=$_def
    export "MARIADB_$_var=$_val"
}

# One line of SQL (printf, not echo: dash's echo would eat the backslashes).
sql() { printf '%s\n' "$*"; }

# SQL quoting without a fork in the common case (no quote or backslash in the value).
sql_literal() {
    case $1 in
        *"'"*|*\\*) printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")" ;;
        *) printf "'%s'" "$1" ;;
    esac
}
sql_ident() { case $1 in *'`'*) printf '`%s`' "$(printf '%s' "$1" | sed 's/`/``/g')" ;; *) printf '`%s`' "$1" ;; esac; }

datadir=/var/lib/mysql
sock=/run/mysqld/mysqld.sock
marker="$datadir/.dkenv-setup-done"
seed=/usr/local/share/dkenv/seed  # the data directory initialised at build time (see the Dockerfile)
initfile=/run/mysqld/dkenv-init.sql
cnf=/run/mysqld/dkenv-client.cnf

# `docker run IMAGE --character-set-server=latin1` means `mariadbd --character-set-server=latin1`.
if [ "${1#-}" != "$1" ]; then
    set -- mariadbd "$@"
fi
case "$1" in mysqld|mariadbd) is_server=1 ;; *) is_server=0 ;; esac

# The effective uid, without a fork.
uid=""
while read -r _k _real _eff _rest; do
    if [ "$_k" = "Uid:" ]; then uid=$_eff; break; fi
done < /proc/self/status

has_init_scripts() {
    for _f in /docker-entrypoint-initdb.d/*; do
        [ -e "$_f" ] && return 0
        break
    done
    return 1
}

# exec_as_mysql CMD...: exec CMD as mysql (we may be root or mysql).
exec_as_mysql() {
    if [ "$uid" = 0 ]; then exec setpriv --reuid=mysql --regid=mysql --init-groups "$@"; fi
    exec "$@"
}

if [ "$is_server" = 1 ] && [ ! -d "$datadir/mysql" ] && [ -d "$seed/mysql" ] \
   && [ -z "$(ls -A "$datadir" 2>/dev/null)" ]; then
    # An empty tmpfs or volume over the data directory: a copy of the image's (a few tens of
    # ms) instead of a new mariadb-install-db (~1.5 s).
    mkdir -p "$datadir"
    cp -a "$seed/." "$datadir/"
    if [ "$uid" = 0 ]; then chown mysql:mysql "$datadir"; fi
fi

if [ "$is_server" = 1 ] && [ "$uid" = 0 ]; then
    export HOME=/var/lib/mysql
    if [ -O "$datadir" ]; then
        # Root's: a tmpfs Podman filled with the image's files (its "tmpcopyup"), or a new mount.
        chown mysql:mysql "$datadir"
    fi
    if [ ! -d "$datadir/mysql" ]; then
        # An empty volume over the data directory: it must belong to mysql.
        mkdir -p "$datadir"
        chown mysql:mysql "$datadir"
    fi
    if [ ! -d /run/mysqld ]; then
        mkdir -p /run/mysqld
        chown mysql:mysql /run/mysqld
    fi
    if [ ! -e "$marker" ] && { [ ! -d "$datadir/mysql" ] || has_init_scripts; }; then
        # The slow paths (initialisation, init scripts) run entirely as mysql: run this again.
        exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
    fi
    # The usual path stays root (no second start of this script): root writes the init-file,
    # runs the watcher, and execs the server as mysql.
fi

if [ "$is_server" = 1 ] && [ ! -e "$marker" ]; then
    mdb_env ROOT_PASSWORD
    mdb_env ALLOW_EMPTY_ROOT_PASSWORD "" MYSQL_ALLOW_EMPTY_PASSWORD
    mdb_env RANDOM_ROOT_PASSWORD
    mdb_env ROOT_HOST %
    mdb_env DATABASE
    mdb_env USER
    mdb_env PASSWORD

    if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
        die "the database is uninitialised and no root password option is given.
    Set one of MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD or MYSQL_RANDOM_ROOT_PASSWORD
    (or their MARIADB_* equivalents), e.g. -e MYSQL_ROOT_PASSWORD=secret"
    fi
    if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ] && [ -z "$MARIADB_ROOT_PASSWORD" ]; then
        MARIADB_ROOT_PASSWORD=$(tr -dc 'A-Za-z0-9' < /dev/urandom | head -c 32)
        log "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
    fi
    if [ "$MARIADB_USER" = root ]; then
        log "MYSQL_USER=root ignored: MYSQL_USER/MYSQL_PASSWORD configure a regular user; use MYSQL_ROOT_PASSWORD for root"
        MARIADB_USER=""
    fi
    if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ]; then
        die "MYSQL_USER is set but MYSQL_PASSWORD is not (set both, or neither)"
    fi

    if [ ! -d "$datadir/mysql" ]; then
        # An empty volume over the data directory: initialise it now (slower path, ~2 s).
        log "initialising a new data directory in $datadir"
        /usr/local/share/dkenv/init-datadir.sh "$datadir"
    fi

    # One statement per line: that is how MariaDB reads an --init-file. MariaDB stops reading
    # the file at the first failing statement (and still starts), hence the check below.
    # root@'%' exists in the image (with ALL and PROXY privileges), without a password until now.
    rootpw=$(sql_literal "$MARIADB_ROOT_PASSWORD")
    # The server (mysql) must read the init-file; when we are root it is root's file, so it is
    # world-readable for the ~0.1 s until the watcher deletes it (inside this container only).
    if [ "$uid" = 0 ]; then umask 022; else umask 077; fi
    {
        sql "SET @@SESSION.SQL_LOG_BIN=0;"
        sql "ALTER USER 'root'@'localhost' IDENTIFIED BY $rootpw;"
        case "$MARIADB_ROOT_HOST" in
            %) sql "ALTER USER 'root'@'%' IDENTIFIED BY $rootpw;" ;;
            localhost) sql "DROP USER 'root'@'%';" ;;
            *)
                roothost=$(sql_literal "$MARIADB_ROOT_HOST")
                sql "CREATE OR REPLACE USER 'root'@$roothost IDENTIFIED BY $rootpw;"
                sql "GRANT ALL ON *.* TO 'root'@$roothost WITH GRANT OPTION;"
                sql "DROP USER 'root'@'%';"
                ;;
        esac
        if [ -n "$MARIADB_DATABASE" ]; then
            sql "CREATE DATABASE IF NOT EXISTS $(sql_ident "$MARIADB_DATABASE");"
        fi
        if [ -n "$MARIADB_USER" ]; then
            user=$(sql_literal "$MARIADB_USER")
            sql "CREATE OR REPLACE USER $user@'%' IDENTIFIED BY $(sql_literal "$MARIADB_PASSWORD");"
            if [ -n "$MARIADB_DATABASE" ]; then
                sql "GRANT ALL ON $(sql_ident "$MARIADB_DATABASE").* TO $user@'%';"
            fi
            if [ "${DKENV_MYSQL_USER_GLOBAL:-1}" != 0 ]; then
                sql "GRANT ALL ON *.* TO $user@'%' WITH GRANT OPTION;"
            fi
        fi
    } > "$initfile"
    umask 077
    # The entrypoint's own client settings (root over the socket), to check the result.
    cnfpw=$MARIADB_ROOT_PASSWORD
    case $cnfpw in *\\*|*'"'*) cnfpw=$(printf '%s' "$cnfpw" | sed 's/\\/\\\\/g; s/"/\\"/g') ;; esac
    printf '[client]\nuser=root\npassword="%s"\nsocket=%s\n' "$cnfpw" "$sock" > "$cnf"
    umask 022
    # What must hold once the init-file has run: root logs in, the database exists, the user exists.
    check_sql="SELECT COUNT(*) FROM mysql.global_priv WHERE User = $(sql_literal "${MARIADB_USER:-root}")"
    check_db=""
    if [ -n "$MARIADB_DATABASE" ]; then check_db="--database=$MARIADB_DATABASE"; fi

    # Scripts in /docker-entrypoint-initdb.d: run them against a temporary socket-only server.
    # (A root caller re-ran this script as mysql above.)
    if has_init_scripts; then
        log "starting a temporary server for /docker-entrypoint-initdb.d"
        "$@" --skip-networking --init-file="$initfile" &
        tmp_pid=$!
        i=0
        until mariadb-admin --defaults-extra-file="$cnf" --connect-timeout=2 ping >/dev/null 2>&1; do
            i=$((i + 1)); [ "$i" -lt 1500 ] || die "the temporary server did not start"
            kill -0 "$tmp_pid" 2>/dev/null || die "the temporary server exited (see above)"
            sleep 0.02
        done
        for f in /docker-entrypoint-initdb.d/*; do
            case "$f" in
                *.sh)     log "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
                *.sql)    log "running $f"; mariadb --defaults-extra-file="$cnf" $check_db < "$f" ;;
                *.sql.gz) log "running $f"; gunzip -c "$f" | mariadb --defaults-extra-file="$cnf" $check_db ;;
                *)        log "ignoring $f" ;;
            esac
        done
        n=$(mariadb --defaults-extra-file="$cnf" $check_db -N -B -e "$check_sql") || n=0
        [ "$n" != 0 ] || die "the credentials could not be applied (see the server's log above)"
        mariadb-admin --defaults-extra-file="$cnf" shutdown
        wait "$tmp_pid" || true
        rm -f "$cnf" "$initfile"
        : > "$marker"
        log "init process done; starting the server"
        exec "$@"
    fi

    # The watcher: see the header. Bounded (about 90 s). Once the server answers, it checks that the
    # init-file did its work; if not, it says so and stops the server (never a "ready" line then).
    (
        i=0
        # First the socket file (a builtin test), then a ping: few processes while the server starts.
        while [ ! -S "$sock" ] && [ "$i" -lt 2000 ]; do
            sleep 0.03
            i=$((i + 1))
        done
        while [ "$i" -lt 3000 ]; do
            if mariadb-admin --defaults-extra-file="$cnf" --connect-timeout=2 ping >/dev/null 2>&1; then
                n=$(mariadb --defaults-extra-file="$cnf" $check_db -N -B -e "$check_sql" 2>&1) || n="0 ($n)"
                if [ "$n" != 0 ] && [ -n "$MARIADB_USER" ]; then
                    n=$(MYSQL_PWD=$MARIADB_PASSWORD mariadb --no-defaults --socket="$sock" \
                        --user="$MARIADB_USER" $check_db -N -B -e "SELECT 1" 2>&1) || n="0 ($n)"
                fi
                rm -f "$initfile" "$cnf"
                if [ "$n" = 0 ] || [ "${n#0 }" != "$n" ]; then
                    error "the credentials could not be applied (see the server's log above): $n; stopping the server"
                    kill -TERM 1
                    exit 1
                fi
                : > "$marker"
                log "ready for connections (credentials applied; second line for clients that expect the official image's restart)"
                exit 0
            fi
            sleep 0.02
            i=$((i + 1))
        done
    ) &
    exec_as_mysql "$@" --init-file="$initfile"
fi

if [ "$is_server" = 1 ]; then
    exec_as_mysql "$@"
fi
exec "$@"
