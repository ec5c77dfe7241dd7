#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the browser tests (tests/browser), installing it
# with apt-get when absent. Playwright drives this binary; it downloads no browser of its own.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
