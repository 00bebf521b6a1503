#!/usr/bin/env bash
# Start what the test suite needs and this machine may not have running.
set -u
if command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; then
  if ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server || true
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && break; sleep 0.1; done
  fi
fi
exit 0
