#!/bin/bash
# Headless Chromium and its WebDriver for test/status_page_browser_test.py (Selenium drives
# /usr/bin/chromium through /usr/bin/chromedriver): this only installs the two packages.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/_lib.sh"
apt_install chromium chromium-driver
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing after install"
[ -x /usr/bin/chromedriver ] || die "/usr/bin/chromedriver missing after install"
log "$(/usr/bin/chromium --version 2>/dev/null | head -n 1) and $(/usr/bin/chromedriver --version | head -n 1) installed"
