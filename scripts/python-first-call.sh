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
export SHAREDMETRICS__REFERENCE_DATA__DIR="$root/../shared/data"
export SHAREDMETRICS__REFERENCE_DATA__CATALOGUE_DIR="$root/data/catalogue"
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
