#!/bin/bash
# RabbitMQ on 127.0.0.1:5672 (guest/guest).  Skips everything if the port already answers.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/_lib.sh"

if port_open 127.0.0.1 5672; then
  log "already answering on 127.0.0.1:5672"
  exit 0
fi
apt_install rabbitmq-server
export RABBITMQ_NODE_IP_ADDRESS=${RABBITMQ_NODE_IP_ADDRESS:-127.0.0.1}
rabbitmq-server -detached
# 'await_startup' alone fails while the node is not yet registered; wait for the pid file first.
PIDFILE=/var/lib/rabbitmq/mnesia/rabbit@$(hostname -s).pid
rabbitmqctl -q wait "$PIDFILE" --timeout 120
rabbitmqctl -q await_startup --timeout 120
wait_for 30 port_open 127.0.0.1 5672 || die "rabbitmq started but 127.0.0.1:5672 does not answer"
log "up"
