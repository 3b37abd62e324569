#!/bin/sh
# dkenv: initialise MariaDB's data directory for a throwaway server. Run at image build time
# (and by the entrypoint when an empty volume is mounted over /var/lib/mysql).
#   - InnoDB files with the small sizes of 99-dkenv.cnf;
#   - root@localhost with password authentication ("normal") and, as in the official images,
#     no root@127.0.0.1 / root@::1 / root@<build host>, no anonymous users, no test database;
#   - root@'%' with ALL and PROXY privileges, still WITHOUT a password: the entrypoint sets the
#     passwords in its --init-file before the server accepts any client.
set -eu
datadir=${1:-/var/lib/mysql}
sock=/run/mysqld/dkenv-init-datadir.sock
as_user=""
if [ "$(id -u)" = 0 ]; then as_user="--user=mysql"; fi

mariadb-install-db $as_user --datadir="$datadir" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve >/dev/null

mariadbd $as_user --datadir="$datadir" --skip-networking --socket="$sock" --log-warnings=0 2>/dev/null &
pid=$!
i=0
until mariadb-admin --no-defaults -uroot --socket="$sock" ping >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "init-datadir: the server did not start" >&2
        exit 1
    fi
    sleep 0.05
done
mariadb --no-defaults -uroot --socket="$sock" <<'SQL'
SET @@SESSION.SQL_LOG_BIN=0;
DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname, '\'');
DELETE FROM mysql.global_priv WHERE User = '';
FLUSH PRIVILEGES;
CREATE USER root@'%';
GRANT ALL ON *.* TO root@'%' WITH GRANT OPTION;
GRANT PROXY ON ''@'%' TO root@'%' WITH GRANT OPTION;
SQL
mariadb-admin --no-defaults -uroot --socket="$sock" shutdown
wait "$pid" || true
rm -f "$datadir"/*.err
