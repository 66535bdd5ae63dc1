#!/usr/bin/env bash
# Runs the Postman collection against a fresh local pixgate server.
#
#   postman/run-newman.sh [PIXGATE_BINARY] [extra newman args...]
#
# PIXGATE_BINARY defaults to target/debug/pixgate (relative to the repository root).
# newman is installed once into ${NEWMAN_PREFIX:-$HOME/.cache/pixgate-newman}.
# The server listens on a free 127.0.0.1 port with a throwaway data directory and is
# stopped on exit. The script exits with newman's status.
set -euo pipefail

NEWMAN_VERSION="6"   # pinned major version

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"
collection="$script_dir/pixgate.postman_collection.json"

bin="${1:-$repo_root/target/debug/pixgate}"
shift $(( $# > 0 ? 1 : 0 ))
if [[ ! -x "$bin" ]]; then
    echo "run-newman: pixgate binary not found or not executable: $bin" >&2
    echo "run-newman: build it first (cargo build) or pass its path as the first argument" >&2
    exit 2
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

for tool in npm python3 curl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "run-newman: $tool is required" >&2; exit 2; }
done

# --- newman -----------------------------------------------------------------------------
prefix="${NEWMAN_PREFIX:-$HOME/.cache/pixgate-newman}"
newman="$prefix/node_modules/.bin/newman"
if [[ ! -x "$newman" ]]; then
    echo "run-newman: installing newman@$NEWMAN_VERSION into $prefix" >&2
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "newman@$NEWMAN_VERSION" >&2
fi

# --- server -----------------------------------------------------------------------------
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
base_url="http://127.0.0.1:$port"
data_dir="$(mktemp -d "${TMPDIR:-/tmp}/pixgate-newman-data.XXXXXX")"
server_log="$data_dir.log"
server_pid=""

cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$data_dir" "$server_log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The collection expects the defaults (fs storage, any origin, standard prefixes and limits):
# keep PIXGATE_* settings from the caller's environment away from the server.
while IFS= read -r var; do
    unset "$var"
done < <(compgen -e | grep '^PIXGATE_' || true)

"$bin" serve --addr "127.0.0.1:$port" --data-dir "$data_dir" --storage fs >"$server_log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 1 100); do   # ~10 s
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "run-newman: the server exited during start-up; its log:" >&2
        cat "$server_log" >&2
        exit 1
    fi
    if curl -fsS -o /dev/null --max-time 1 "$base_url/healthz" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.1
done
if [[ -z "$ready" ]]; then
    echo "run-newman: $base_url/healthz did not answer within 10 s; server log:" >&2
    cat "$server_log" >&2
    exit 1
fi
echo "run-newman: pixgate ($bin) listening on $base_url, data in $data_dir" >&2

# --- collection -------------------------------------------------------------------------
status=0
"$newman" run "$collection" \
    --env-var "baseUrl=$base_url" \
    --working-dir "$script_dir" \
    "$@" || status=$?

if [[ $status -ne 0 ]]; then
    echo "run-newman: newman failed (exit $status); server log:" >&2
    cat "$server_log" >&2
fi
exit "$status"
