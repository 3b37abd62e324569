#!/bin/sh
# Provision what dkenv's test suite needs on a Debian 12 machine (run as root; idempotent):
#   - a Docker engine (Debian's docker.io 20.10), started by hand when none answers:
#       setsid dockerd -H unix:///var/run/docker.sock
#     (unix socket only: the remote-engine tests make their own tcp:// endpoint), plus mmdebstrap
#     (to make a Debian base image without a registry) and docker-compose (v1.29);
#   - podman (Debian's 4.3): the Podman tests start its Docker-compatible service on a private
#     socket, with private storage; nothing of it runs outside those tests;
#   - PostgreSQL 15 and MariaDB server packages, whose binaries the tests use to start their own
#     native servers. Their Debian services are NOT left running: the install is prevented from
#     starting them, and any that did start are stopped, so ports 5432/3306 stay free.
#
# Usage: sh scripts/docker-engine.sh        (DKENV_SKIP_NATIVE=1: skip postgresql-15/mariadb-server)
# Progress goes to stderr; exit 0 when the engine answers `docker info`.
set -eu

say() { printf 'docker-engine.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run me as root (apt-get and dockerd need it)"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

engine_ok() { docker info >/dev/null 2>&1; }

# Is a dockerd process running? (no procps needed)
dockerd_running() { grep -qx dockerd /proc/[0-9]*/comm 2>/dev/null; }

# ---- what is missing -------------------------------------------------------------------------
engine_was_up=0
if command -v docker >/dev/null 2>&1 && engine_ok; then
    engine_was_up=1
    say "a Docker engine already answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
fi

need=""
if [ "$engine_was_up" = 0 ] && ! command -v dockerd >/dev/null 2>&1; then
    need="$need docker.io"
fi
command -v mmdebstrap >/dev/null 2>&1 || need="$need mmdebstrap"
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
    need="$need docker-compose"
fi
command -v podman >/dev/null 2>&1 || need="$need podman"
native=""
if [ "${DKENV_SKIP_NATIVE:-0}" != 1 ]; then
    installed postgresql-15 || native="$native postgresql-15"
    installed mariadb-server || native="$native mariadb-server"
fi
need="$need$native"

# ---- install ---------------------------------------------------------------------------------
if [ -n "$need" ]; then
    say "installing:$need"
    # Keep package scripts from starting services (PostgreSQL's and MariaDB's would take ports
    # 5432/3306; dockerd is started below, our way). Removed again on exit.
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# temporary, from dkenv scripts/docker-engine.sh\nexit 101\n' > "$policy"
        chmod 0755 "$policy"
        own_policy=1
        trap 'rm -f "$policy"' EXIT INT TERM
    fi
    export DEBIAN_FRONTEND=noninteractive
    lists=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' 2>/dev/null | head -n 1)
    if [ -z "$lists" ]; then
        say "apt-get update (no package lists yet)"
        apt-get update >&2
    fi
    # shellcheck disable=SC2086
    if ! apt-get install -y --no-install-recommends $need >&2; then
        say "install failed; refreshing the package lists and retrying"
        apt-get update >&2
        # shellcheck disable=SC2086
        apt-get install -y --no-install-recommends $need >&2
    fi
    if [ "$own_policy" = 1 ]; then
        rm -f "$policy"
        trap - EXIT INT TERM
    fi

    # If the install started the Debian services anyway (e.g. under systemd), stop and disable them.
    case "$native" in
        *postgresql-15*)
            if command -v pg_lsclusters >/dev/null 2>&1; then
                pg_lsclusters -h 2>/dev/null | while read -r ver name port status _rest; do
                    if [ "$status" = online ]; then
                        say "stopping the Debian PostgreSQL cluster $ver/$name (port $port)"
                        pg_ctlcluster "$ver" "$name" stop || true
                    fi
                done
            fi
            ;;
    esac
    case "$native" in
        *mariadb-server*)
            if [ -S /run/mysqld/mysqld.sock ] && [ -x /etc/init.d/mariadb ]; then
                say "stopping the Debian MariaDB service"
                /etc/init.d/mariadb stop >&2 || true
            fi
            ;;
    esac
    if [ -n "$native" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now postgresql mariadb >/dev/null 2>&1 || true
    fi
else
    say "packages present (docker, mmdebstrap, docker-compose, podman; postgresql-15 and mariadb-server unless DKENV_SKIP_NATIVE=1)"
fi

# ---- the engine ------------------------------------------------------------------------------
if [ "$engine_was_up" = 1 ]; then
    say "Docker engine ready"
    exit 0
fi
if engine_ok; then
    say "Docker engine ready"
    exit 0
fi

if [ -S /var/run/docker.sock ] && ! dockerd_running; then
    rm -f /var/run/docker.sock   # stale socket of a dead daemon
fi
if dockerd_running; then
    say "dockerd is running but does not answer yet; waiting"
else
    say "starting dockerd (log: /var/log/dockerd.log)"
    setsid dockerd -H unix:///var/run/docker.sock >/var/log/dockerd.log 2>&1 &
fi

i=0
while ! engine_ok; do
    i=$((i + 1))
    if [ "$i" -gt 120 ] || { [ "$i" -gt 4 ] && ! dockerd_running; }; then
        say "the last lines of /var/log/dockerd.log:"
        tail -n 20 /var/log/dockerd.log >&2 2>/dev/null || true
        if dockerd_running; then die "the Docker engine did not answer within 60 s"; fi
        die "dockerd exited (see its log above; it needs root with full privileges, not an unprivileged container)"
    fi
    if [ $((i % 10)) = 0 ]; then say "waiting for the Docker engine ($((i / 2)) s)"; fi
    sleep 0.5
done
say "Docker engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
