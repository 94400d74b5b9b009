#!/bin/bash
# nginx for test/nginx_proxy_test.py, which runs its own nginx (docs/examples/nginx-lwr.conf
# in a private nginx.conf on a free port): this only installs the binary.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/_lib.sh"
apt_install nginx-light
log "$(nginx -v 2>&1) installed"
