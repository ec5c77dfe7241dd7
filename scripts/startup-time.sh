#!/usr/bin/env bash
# Starts the platform on the embedded default in an empty temporary folder, as a new user would
# after `make run`, and prints the "ready in" figure of each of N starts (default 3). The binary
# carries its reference data, so the folder needs nothing. Usage:
#   scripts/startup-time.sh [binary] [starts]      (default: target/release/sharedmetrics, 3)
set -euo pipefail
binary=$(realpath "${1:-target/release/sharedmetrics}")
starts=${2:-3}
for _ in $(seq 1 "$starts"); do
  folder=$(mktemp -d)
  (
    cd "$folder"
    SHAREDMETRICS__GATEWAY__GRPC_ADDR=127.0.0.1:0 SHAREDMETRICS__GATEWAY__HTTP_ADDR=127.0.0.1:0 \
      "$binary" serve >out.log 2>&1 &
    server=$!
    for _ in $(seq 1 600); do
      grep -q "ready in" out.log 2>/dev/null && break
      kill -0 "$server" 2>/dev/null || { cat out.log; exit 1; }
      sleep 0.1
    done
    grep -o "ready in [0-9]* ms" out.log
    kill "$server"; wait "$server" 2>/dev/null || true
  )
  rm -rf "$folder"
done
