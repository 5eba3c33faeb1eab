#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs, upgrades and rolls back retail-api as a systemd service.
#
#   scripts/install.sh [--install]  build, install a new release, restart, wait for
#                                   /ready; roll back by itself if it never gets ready
#   scripts/install.sh --rollback   return to the previous release
#   scripts/install.sh --status     list the releases and the service's state
#
# With --test, a release that got ready must also pass a smoke test over
# loopback (GET /live, /ready, /health, and /v1/products/?limit=1 with the
# configured key) or it is rolled back too; --report prints the releases
# and what /health says once done (the hotfix's --install --test --report).
#
# Layout: releases in /opt/retail-api/releases/<version>/ (bin/, config/,
# share/), the one in service at /opt/retail-api/current, the one before it
# at /opt/retail-api/previous; the unit at
# /etc/systemd/system/retail-api.service; the configuration at
# /etc/retail-api/retail-api.conf, created from the example (with a random
# API key) when missing and never overwritten.
#
# Options:
#   --root DIR          install under DIR instead of / (tests)
#   --no-systemd        no systemctl: stop and start the server by its pid
#                       (DIR/run/retail-api.pid), logging to DIR/var/log/retail-api.log
#   --binary FILE       install this binary instead of building one
#   --version NAME      the release's name (default: version-commit-UTC time)
#   --ready-timeout S   how long to wait for /ready (default 30)
#   --keep N            releases to keep (default 5)
#   --test, --report    see above
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)

root="" systemd=true binary="" version="" ready_timeout=30 keep=5 action=install
smoke=false report=false
while [ $# -gt 0 ]; do
    case "$1" in
    --install) action=install; shift ;;
    --test) smoke=true; shift ;;
    --report) report=true; shift ;;
    --root) root=$(cd "$2" && pwd); shift 2 ;;
    --no-systemd) systemd=false; shift ;;
    --binary) binary=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --version) version=$2; shift 2 ;;
    --ready-timeout) ready_timeout=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --rollback) action=rollback; shift ;;
    --status) action=status; shift ;;
    -h | --help) sed -n '3,33p' "$0"; exit 0 ;;
    *) echo "install: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

prefix=$root/opt/retail-api
conf_dir=$root/etc/retail-api
conf=$conf_dir/retail-api.conf
unit_dir=$root/etc/systemd/system
pidfile=$root/run/retail-api.pid
logfile=$root/var/log/retail-api.log

say() { echo "install: $*"; }
fail() { echo "install: $*" >&2; exit 1; }

# The value of KEY in the configuration, or the default given.
conf_value() {
    local value=""
    if [ -r "$conf" ]; then
        value=$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$conf" | tail -n 1 |
            sed "s/^[\"']//; s/[\"']\$//")
    fi
    echo "${value:-$2}"
}

# GET path [key] over loopback with bash alone (a bare VM may have no
# curl); prints the whole answer, status line first. The key goes only
# into the request.
http_get() {
    local port host auth=""
    [ -n "${2:-}" ] && auth="X-API-Key: $2"$'\r\n'
    port=$(conf_value PORT 8000)
    host=$(conf_value HOST 0.0.0.0)
    # The address it listens on, or loopback when it listens on all of them.
    case "$host" in 0.0.0.0 | localhost | "") host=127.0.0.1 ;; :: | "[::]") host=::1 ;; esac
    (exec 3<>"/dev/tcp/$host/$port" &&
        printf 'GET %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n' "$1" \
            "$auth" >&3 &&
        timeout 5 cat <&3) 2>/dev/null
}

# True when GET path [key] answers 200.
answers_200() {
    local reply
    reply=$(http_get "$@" | head -n 1) || return 1
    case "$reply" in "HTTP/1."?" 200"*) return 0 ;; *) return 1 ;; esac
}

ready_now() { answers_200 /ready; }

# The smoke test of --test: every probe, and one page with the first key.
smoke_test() {
    local key path
    key=$(conf_value API_KEYS "")
    key=${key%%,*}
    [ -n "$key" ] || key=$(conf_value API_KEY "")
    for path in /live /ready /health; do
        answers_200 "$path" || { echo "install: smoke test: GET $path did not answer 200" >&2; return 1; }
    done
    answers_200 "/v1/products/?limit=1" "$key" ||
        { echo "install: smoke test: GET /v1/products/?limit=1 with the configured key did not answer 200" >&2; return 1; }
    say "smoke test passed: /live, /ready, /health and /v1/products/?limit=1 answer 200"
}

# What --report prints: the releases and /health's verdict.
print_report() {
    local health
    status
    health=$(http_get /health | tail -n 1)
    echo "health: $(printf '%s' "$health" | grep -o '"status":"[a-z_]*"' | head -n 1 | cut -d'"' -f4)" \
        "(serving $(printf '%s' "$health" | grep -o '"tier":"[a-z]*"' | cut -d'"' -f4)," \
        "$(printf '%s' "$health" | grep -o '"reason":"[^"]*"' | cut -d'"' -f4))"
}

# Ready, and with --test also through the smoke test.
release_ok() {
    wait_ready || return 1
    if $smoke; then
        smoke_test || return 1
    fi
}

wait_ready() {
    local deadline=$((SECONDS + ready_timeout))
    while [ $SECONDS -lt "$deadline" ]; do
        if ready_now; then
            return 0
        fi
        if ! $systemd && ! server_alive; then
            return 1 # it exited: no point waiting
        fi
        sleep 0.2
    done
    return 1
}

server_alive() {
    [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

stop_server() {
    local pid deadline
    server_alive || { rm -f "$pidfile"; return 0; }
    pid=$(cat "$pidfile")
    kill -TERM "$pid"
    deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt "$deadline" ]; do
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    rm -f "$pidfile"
}

restart() {
    if $systemd; then
        systemctl daemon-reload
        systemctl enable --quiet retail-api.service
        systemctl restart retail-api.service
    else
        stop_server
        mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
        # A clean environment, as systemd gives: the configuration is the file.
        (cd "$prefix/current" && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            "$prefix/current/bin/retail-api" --config "$conf" >>"$logfile" 2>&1) &
        echo $! >"$pidfile"
    fi
}

# Points a link at a release directory, atomically (rename over the old one).
relink() { # name target
    ln -sfn "$2" "$prefix/$1.new"
    mv -Tf "$prefix/$1.new" "$prefix/$1"
}

switch_to() { # release name
    local old
    old=$(readlink "$prefix/current" 2>/dev/null || true)
    relink current "releases/$1"
    if [ -n "$old" ] && [ "$old" != "releases/$1" ]; then
        relink previous "$old"
    fi
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $1" >>"$prefix/history"
}

current_release() { basename "$(readlink "$prefix/current" 2>/dev/null || echo none)"; }
previous_release() { basename "$(readlink "$prefix/previous" 2>/dev/null || echo none)"; }

status() {
    local cur prev
    cur=$(current_release)
    prev=$(previous_release)
    echo "releases in $prefix/releases:"
    if [ -d "$prefix/releases" ]; then
        for dir in $(ls -1tr "$prefix/releases"); do
            mark="  "
            note=""
            [ "$dir" = "$cur" ] && mark="* " && note=" (current)"
            [ "$dir" = "$prev" ] && note=" (previous)"
            echo "  $mark$dir$note"
        done
    fi
    if $systemd; then
        echo "service: $(systemctl is-active retail-api.service 2>/dev/null || true)"
    elif server_alive; then
        echo "service: running, pid $(cat "$pidfile")"
    else
        echo "service: stopped"
    fi
    if ready_now; then echo "ready: yes"; else echo "ready: no"; fi
}

install_config() {
    mkdir -p "$conf_dir"
    cp "$prefix/current/config/retail-api.conf.example" "$conf_dir/retail-api.conf.example"
    if [ -e "$conf" ]; then
        say "keeping the existing configuration $conf"
        return
    fi
    key=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    sed "s/^API_KEYS=\$/API_KEYS=$key/" "$prefix/current/config/retail-api.conf.example" >"$conf"
    chmod 0640 "$conf"
    if [ -z "$root" ] && getent group retail-api >/dev/null; then
        chown root:retail-api "$conf"
    fi
    say "created $conf with a new random API key (read it there; it is not printed)"
}

install_release() {
    local name dest
    if [ -z "$binary" ]; then
        "$src/scripts/deps.sh" run
        cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DRETAIL_TESTS=OFF >/dev/null
        cmake --build "$src/build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
        binary=$src/build/retail-api
    fi
    [ -x "$binary" ] || fail "$binary is not an executable"
    if [ -z "$version" ]; then
        version=$("$binary" --version 2>/dev/null | awk '{print $2}' || true)
        commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo local)
        version=${version:-0}-$commit-$(date -u +%Y%m%dT%H%M%SZ)
    fi
    name=$version
    dest=$prefix/releases/$name
    [ -e "$dest" ] && fail "release $name is already installed"
    mkdir -p "$dest/bin" "$dest/config" "$dest/share"
    install -m 0755 "$binary" "$dest/bin/retail-api"
    install -m 0644 "$src/config/fallback_products.json" "$src/config/retail-api.conf.example" \
        "$src/config/retail-api.service" "$dest/config/"
    install -m 0644 "$src/README.md" "$dest/share/"
    [ -f "$src/docs/openapi.yaml" ] && install -m 0644 "$src/docs/openapi.yaml" "$dest/share/"

    if [ -z "$root" ] && $systemd && ! getent passwd retail-api >/dev/null; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
            retail-api
        say "created the system user retail-api"
    fi
    before=$(current_release)
    before_previous=$(previous_release)
    switch_to "$name"
    mkdir -p "$unit_dir"
    install -m 0644 "$dest/config/retail-api.service" "$unit_dir/retail-api.service"
    install_config
    say "installed release $name; restarting"
    restart
    if release_ok; then
        say "release $name is ready"
        prune
        return 0
    fi
    if [ "$before" = none ]; then
        fail "release $name did not become ready within ${ready_timeout}s (or failed its smoke test), and there is no earlier release to return to"
    fi
    echo "install: release $name did not become ready within ${ready_timeout}s (or failed its smoke test): rolling back to $before" >&2
    relink current "releases/$before"
    # The failed release is not a place to roll back to.
    if [ "$before_previous" != none ]; then
        relink previous "releases/$before_previous"
    else
        rm -f "$prefix/previous"
    fi
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $before (automatic rollback from $name)" >>"$prefix/history"
    restart
    if wait_ready; then
        fail "rolled back to $before, which is ready; $name stays installed for inspection"
    fi
    fail "rolled back to $before, but it is not ready either: look at the logs"
}

rollback() {
    local target cur
    target=$(previous_release)
    cur=$(current_release)
    [ "$target" != none ] && [ -d "$prefix/releases/$target" ] ||
        fail "there is no previous release to roll back to"
    switch_to "$target"
    install -m 0644 "$prefix/current/config/retail-api.service" "$unit_dir/retail-api.service"
    say "rolled back from $cur to $target; restarting"
    restart
    release_ok || fail "release $target did not become ready within ${ready_timeout}s (or failed its smoke test)"
    say "release $target is ready"
}

# Keeps the newest releases, and always the current and previous ones.
prune() {
    local cur prev count=0
    cur=$(current_release)
    prev=$(previous_release)
    for dir in $(ls -1t "$prefix/releases"); do
        count=$((count + 1))
        if [ $count -gt "$keep" ] && [ "$dir" != "$cur" ] && [ "$dir" != "$prev" ]; then
            rm -rf "${prefix:?}/releases/$dir"
            say "removed the old release $dir"
        fi
    done
}

if $report && [ "$action" != status ]; then
    # Also after a failure: what runs now is what the operator needs to see.
    trap 'code=$?; print_report; exit $code' EXIT
fi
case $action in
install) install_release ;;
rollback) rollback ;;
status) status ;;
esac
