#!/bin/sh
# mode http side by side: weir vs HAProxy on bench/http/proxy.cfg, NGINX as
# the origin, everything on 127.0.0.1. Bounded: each wrk run lasts 5 s, each
# callgrind run N requests. Proxy pinned to CPU 0; wrk and NGINX to CPU 1.
#
#   WEIR=target/release/weir bench/http/run.sh [rounds]    (CALLGRIND=0: wrk only)
#
# Prints, per round: keep-alive req/s (wrk -c50) with the p50/p99 request
# latency wrk measured (--latency, microseconds), the same for
# Connection: close, then userspace instructions per keep-alive request under callgrind
# ((I(2N) - I(N)) / N over one h2load --h1 connection, counters zeroed
# before each run), three times per proxy.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
weir=${WEIR:-target/release/weir}
rounds=${1:-3}
tmp=/tmp/weir-bench-http
mkdir -p $tmp
taskset -c 1 nginx -c "$here/nginx.conf"
sleep 0.2
nginx_pid=$(cat $tmp/nginx.pid)
# Stop NGINX and wait until it removed its pid file (a next run's NGINX
# would otherwise lose its pid file to this one's exit).
trap 'kill $nginx_pid 2>/dev/null || true; for i in $(seq 1 50); do [ -e $tmp/nginx.pid ] || break; sleep 0.1; done' EXIT
sleep 0.5

start() {
  if [ "$1" = weir ]; then taskset -c 0 $2 "$weir" -d -f "$here/proxy.cfg" > $tmp/$1.log 2>&1 &
  else taskset -c 0 $2 haproxy -db -f "$here/proxy.cfg" > $tmp/$1.log 2>&1 &
  fi
  pid=$!
  for i in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:18091/ && return; sleep 0.2; done
}

# Requests per second, and percentile $1 of the latency in microseconds
# (wrk prints e.g. "99%    1.23ms"), from wrk --latency output file.
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
pct() {
  awk -v p="$1%" '$1 == p {
    v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
    m = (u == "us") ? 1 : (u == "ms") ? 1000 : (u == "s") ? 1000000 : 60000000
    printf "%d\n", v * m + 0.5; exit }' "$2"
}

for r in $(seq 1 "$rounds"); do
  for p in weir haproxy; do
    start $p ""
    taskset -c 1 wrk --latency -t1 -c50 -d5s http://127.0.0.1:18091/ > $tmp/wrk.ka
    taskset -c 1 wrk --latency -t1 -c50 -d5s -H "Connection: close" http://127.0.0.1:18091/ > $tmp/wrk.cl
    kill $pid; wait $pid 2>/dev/null || true
    echo "round $r $p keepalive_rps $(rps $tmp/wrk.ka) p50_us $(pct 50 $tmp/wrk.ka) p99_us $(pct 99 $tmp/wrk.ka)" \
      "close_rps $(rps $tmp/wrk.cl) p50_us $(pct 50 $tmp/wrk.cl) p99_us $(pct 99 $tmp/wrk.cl)"
  done
done

[ "${CALLGRIND:-1}" = 0 ] && exit 0
n=2000
for p in weir haproxy; do
  start $p "valgrind --tool=callgrind --callgrind-out-file=$tmp/cg.$p"
  taskset -c 1 h2load --h1 -n 200 -c 1 http://127.0.0.1:18091/ > /dev/null
  for rep in 1 2 3; do
    for k in 1 2; do
      callgrind_control -z $pid > /dev/null 2>&1; sleep 1
      taskset -c 1 h2load --h1 -n $((n * k)) -c 1 http://127.0.0.1:18091/ > /dev/null
      callgrind_control -d $pid > /dev/null 2>&1; sleep 1.5
      f=$(ls -t $tmp/cg.$p.* | head -1)
      eval "i$k=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")"
    done
    echo "$p instructions_per_keepalive_request $(( (i2 - i1) / n ))"
  done
  kill -9 $pid; wait $pid 2>/dev/null || true
  rm -f $tmp/cg.$p*
done
