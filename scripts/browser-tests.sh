#!/usr/bin/env bash
# Tests the web dashboard in a real browser: starts the debug binary on a fresh SQLite file and
# free ports (as `make run` would, with the real reference data and catalogue), seeds known data
# through the API with the bootstrap admin key (tests/browser/seed.py), then drives Debian's
# headless Chromium with Playwright (tests/browser/dashboard.test.mjs). Screenshots of every view
# go to target/browser-artifacts; with UPDATE_DOCS=1 one of each is copied into docs/dashboard/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-}
if [ -z "$binary" ]; then
  # Incremental, so cheap when nothing changed; a stale binary would serve a stale dashboard.
  (cd "$root" && cargo build -p sharedmetrics)
  binary=$root/target/debug/sharedmetrics
fi
"$root/scripts/ensure-browser.sh"
python3 -c 'import grpc, grpc_tools' 2>/dev/null || python3 -m pip install -q grpcio grpcio-tools
(cd "$root/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)

scratch=$(mktemp -d)
# A local OIDC issuer (discovery, JWKS, test tokens) so that signing in with a token is tested too.
node "$root/tests/browser/oidc-issuer.mjs" "$scratch/oidc-port" &
issuer=$!
for _ in $(seq 1 50); do [ -s "$scratch/oidc-port" ] && break; sleep 0.1; done
oidc_issuer="http://127.0.0.1:$(cat "$scratch/oidc-port")"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
grpc_port=$(free_port); http_port=$(free_port)
export SHAREDMETRICS__DATABASE__URL="sqlite://$scratch/sm.db?mode=rwc"
export SHAREDMETRICS__GATEWAY__GRPC_ADDR="127.0.0.1:$grpc_port"
export SHAREDMETRICS__GATEWAY__HTTP_ADDR="127.0.0.1:$http_port"
export SHAREDMETRICS__BOOTSTRAP__ADMIN_KEY_FILE="$scratch/admin-api-key"
export SHAREDMETRICS__OIDC__ISSUER="$oidc_issuer"
"$binary" serve >"$scratch/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" "$issuer" 2>/dev/null || true
  wait "$server" "$issuer" 2>/dev/null || true
  if [ "${KEEP_SCRATCH:-0}" = 1 ]; then echo "kept $scratch"; else rm -rf "$scratch"; fi
}
trap cleanup EXIT
for _ in $(seq 1 240); do
  curl -fsS "http://127.0.0.1:$http_port/health/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$scratch/server.log"; exit 1; }
  sleep 0.5
done
python3 "$root/tests/browser/seed.py" "127.0.0.1:$grpc_port" "$(cat "$scratch/admin-api-key")" "$scratch/seed.json"

export DASHBOARD_BASE_URL="http://127.0.0.1:$http_port"
export DASHBOARD_SEED_FILE="$scratch/seed.json"
export DASHBOARD_OIDC_ISSUER="$oidc_issuer"
export DASHBOARD_ARTIFACTS="$root/target/browser-artifacts"
export DASHBOARD_DOCS_SCREENSHOTS=""
if [ "${UPDATE_DOCS:-0}" = 1 ]; then export DASHBOARD_DOCS_SCREENSHOTS="$root/docs/dashboard"; fi
mkdir -p "$DASHBOARD_ARTIFACTS"
status=0
(cd "$root/tests/browser" && node --test --test-concurrency=1 --test-reporter=spec dashboard.test.mjs) || status=$?
if [ $status -ne 0 ]; then
  cp "$scratch/server.log" "$DASHBOARD_ARTIFACTS/server.log" 2>/dev/null || true
  echo "browser tests failed: screenshots and the server log are in $DASHBOARD_ARTIFACTS" >&2
fi
exit $status
