#!/usr/bin/env bash
# A 3-node JetStream cluster of this machine's nats-server on loopback, for tests and benchmarks.
#
#   scripts/nats-cluster.sh start          start n1 n2 n3 (free ports), wait until each answers
#   scripts/nats-cluster.sh stop           stop every node (SIGTERM, then SIGKILL) and delete the store
#   scripts/nats-cluster.sh status         one line per node: running/stopped, pid, client URL
#   scripts/nats-cluster.sh urls           nats://127.0.0.1:P1,nats://127.0.0.1:P2,nats://127.0.0.1:P3
#   scripts/nats-cluster.sh kill N         SIGKILL node N (1..3): a crash, its store is kept
#   scripts/nats-cluster.sh stop N         SIGTERM node N (a clean shutdown)
#   scripts/nats-cluster.sh restart N      (stop and) start node N again on the same ports and store
#
# Environment: EVLOG_NATS_CLUSTER_DIR (default ${TMPDIR:-/tmp}/evlog-nats-cluster-$UID) holds the
# config, logs, pids and JetStream stores; EVLOG_NATS_CLUSTER_PORT (default: the first free of
# 14222, 14232, ...) is node 1's client port, nodes 2 and 3 use the next two; cluster (route)
# ports are client + 2000, monitoring ports client + 4000. NATS_SERVER: the binary
# (default /usr/sbin/nats-server, else nats-server on PATH). Never uses port 4222.
set -u

DIR=${EVLOG_NATS_CLUSTER_DIR:-${TMPDIR:-/tmp}/evlog-nats-cluster-$(id -u)}
SERVER=${NATS_SERVER:-/usr/sbin/nats-server}
[ -x "$SERVER" ] || SERVER=$(command -v nats-server || true)
NODES="1 2 3"

die() { echo "nats-cluster: $*" >&2; exit 1; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

load_ports() {
  [ -f "$DIR/ports" ] || die "no cluster in $DIR (run: $0 start)"
  BASE=$(cat "$DIR/ports")
}

pick_ports() {
  if [ -n "${EVLOG_NATS_CLUSTER_PORT:-}" ]; then
    BASE=$EVLOG_NATS_CLUSTER_PORT
    for off in 0 1 2 2000 2001 2002 4000 4001 4002; do
      port_busy $((BASE + off)) && die "port $((BASE + off)) is in use (set EVLOG_NATS_CLUSTER_PORT)"
    done
    return 0
  fi
  for BASE in $(seq 14222 10 14922); do
    local free=1
    for off in 0 1 2 2000 2001 2002 4000 4001 4002; do
      if port_busy $((BASE + off)); then free=0; break; fi
    done
    [ $free = 1 ] && return 0
  done
  die "no free ports between 14222 and 14924"
}

client_port() { echo $((BASE + $1 - 1)); }
route_port() { echo $((BASE + 2000 + $1 - 1)); }
http_port() { echo $((BASE + 4000 + $1 - 1)); }

pid_of() {
  local f="$DIR/n$1.pid"
  [ -f "$f" ] || return 1
  local pid
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

write_config() {
  local n=$1 routes="" i
  for i in $NODES; do routes="$routes    nats-route://127.0.0.1:$(route_port "$i")"$'\n'; done
  mkdir -p "$DIR/n$n"
  cat > "$DIR/n$n.conf" <<EOF
server_name: n$n
listen: 127.0.0.1:$(client_port "$n")
http: 127.0.0.1:$(http_port "$n")
jetstream {
  store_dir: "$DIR/n$n"
  max_memory_store: 256MB
  max_file_store: 4GB
}
cluster {
  name: evlog-test
  listen: 127.0.0.1:$(route_port "$n")
  routes: [
$routes  ]
}
EOF
}

start_node() {
  local n=$1
  if pid_of "$n" >/dev/null; then return 0; fi
  write_config "$n"
  # setsid: the node outlives this script and is not in the caller's process group
  setsid "$SERVER" -c "$DIR/n$n.conf" >>"$DIR/n$n.log" 2>&1 < /dev/null &
  echo $! > "$DIR/n$n.pid"
}

wait_up() {
  local n=$1 i
  for i in $(seq 100); do
    port_busy "$(client_port "$n")" && return 0
    pid_of "$n" >/dev/null || die "node n$n exited: $(tail -n 3 "$DIR/n$n.log")"
    sleep 0.1
  done
  die "node n$n does not answer on port $(client_port "$n")"
}

stop_node() {   # stop_node N SIGNAL
  local n=$1 sig=$2 pid i
  pid=$(pid_of "$n") || { rm -f "$DIR/n$n.pid"; return 0; }
  kill "-$sig" "$pid" 2>/dev/null
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; sleep 0.2; fi
  rm -f "$DIR/n$n.pid"
}

check_node() {
  case "${1:-}" in 1|2|3) ;; *) die "node number must be 1, 2 or 3";; esac
}

urls() {
  local out="" i
  for i in $NODES; do out="$out${out:+,}nats://127.0.0.1:$(client_port "$i")"; done
  echo "$out"
}

cmd=${1:-}
case "$cmd" in
  start)
    [ -n "$SERVER" ] || die "nats-server not found (set NATS_SERVER)"
    mkdir -p "$DIR"
    if [ -f "$DIR/ports" ]; then
      BASE=$(cat "$DIR/ports")
    else
      pick_ports
      echo "$BASE" > "$DIR/ports"
    fi
    for n in $NODES; do start_node "$n"; done
    for n in $NODES; do wait_up "$n"; done
    urls
    ;;
  stop)
    if [ -n "${2:-}" ]; then
      check_node "$2"; load_ports; stop_node "$2" TERM
    else
      [ -d "$DIR" ] || exit 0
      for n in $NODES; do stop_node "$n" TERM; done
      rm -rf "$DIR"
    fi
    ;;
  kill)
    check_node "${2:-}"; load_ports; stop_node "$2" KILL
    ;;
  restart)
    check_node "${2:-}"; load_ports; stop_node "$2" TERM; start_node "$2"; wait_up "$2"
    ;;
  status)
    load_ports
    for n in $NODES; do
      if pid=$(pid_of "$n"); then state="running pid $pid"; else state="stopped"; fi
      echo "n$n $state nats://127.0.0.1:$(client_port "$n") route $(route_port "$n") monitor http://127.0.0.1:$(http_port "$n")"
    done
    ;;
  urls)
    load_ports; urls
    ;;
  *)
    echo "usage: $0 start|stop [N]|status|urls|kill N|restart N" >&2
    exit 2
    ;;
esac
