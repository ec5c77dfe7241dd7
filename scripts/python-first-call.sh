#!/usr/bin/env bash
# Tests the README's first call as a user would make it: starts the built binary on a fresh
# SQLite file and free ports, then runs the Python grpcio client generated from the protos.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-$root/target/debug/sharedmetrics}
python3 -c 'import grpc, grpc_tools' 2>/dev/null || python3 -m pip install -q grpcio grpcio-tools
scratch=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
grpc_port=$(free_port); http_port=$(free_port)
export SHAREDMETRICS__DATABASE__URL="sqlite://$scratch/sm.db?mode=rwc"
export SHAREDMETRICS__GATEWAY__GRPC_ADDR="127.0.0.1:$grpc_port"
export SHAREDMETRICS__GATEWAY__HTTP_ADDR="127.0.0.1:$http_port"
export SHAREDMETRICS__BOOTSTRAP__ADMIN_KEY_FILE="$scratch/admin-api-key"
"$binary" serve >"$scratch/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$scratch"' EXIT
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$http_port/health/readyz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$scratch/server.log"; exit 1; }
  sleep 0.5
done
python3 "$root/examples/python/first_call.py" "127.0.0.1:$grpc_port" "$(cat "$scratch/admin-api-key")"
echo "python first call: ok"
# The bootstrap key's only copy is its file: created 0600, and never in the server's output.
mode=$(stat -c %a "$scratch/admin-api-key")
[ "$mode" = 600 ] || { echo "the admin key file is mode $mode, not 600"; exit 1; }
db_mode=$(stat -c %a "$scratch/sm.db")
[ "$db_mode" = 600 ] || { echo "the SQLite store is mode $db_mode, not 600"; exit 1; }
if grep -qF "$(cut -d_ -f3 "$scratch/admin-api-key")" "$scratch/server.log"; then
  echo "the admin key's secret appears in the server's standard output or log"; exit 1
fi
grep -q "admin API key created: read it from $scratch/admin-api-key" "$scratch/server.log" \
  || { echo "the server does not say where the admin key is"; cat "$scratch/server.log"; exit 1; }
echo "bootstrap admin key: only in its 0600 file, not in the output; SQLite store 0600: ok"
