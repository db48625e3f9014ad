#!/bin/sh
# Makes sure Debian's Chromium is at /usr/bin/chromium for the dashboard's headless browser test
# (test/dashboard/browser.test.ts, driven by playwright-core). Idempotent: does nothing when the
# binary is already there. Installs with apt-get only when running as root; otherwise it says what
# to run and exits 0, because the browser test skips itself (with a printed reason) without Chromium.
set -eu

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "ensure-chromium: $CHROMIUM is present ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: $CHROMIUM is missing and we are not root; run 'sudo apt-get install -y chromium' to enable the browser test"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing and apt-get is not available; install Chromium by hand to enable the browser test"
  exit 0
fi

echo "ensure-chromium: installing Debian's chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium
echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
