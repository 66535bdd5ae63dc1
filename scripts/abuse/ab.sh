#!/usr/bin/env bash
# A/B of two pixgate release binaries (/tmp/pixgate-before, /tmp/pixgate-after) under the peer's load.sh,
# alternating, a fresh server each run: scripts/abuse/ab.sh. Needs ab and target/bench/img (scripts/bench/run makes it).
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
IMG="$root/target/bench/img/phone-12mp.jpg"
for round in 1 2 3; do
  for name in before after; do
    for conc in 1 4; do
      dir=$(mktemp -d); port=$((4100 + RANDOM % 500))
      /tmp/pixgate-$name serve --addr 127.0.0.1:$port --data-dir $dir >/dev/null 2>&1 &
      pid=$!
      for i in $(seq 50); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
      out=$("$root/../shared/peers/sharp/load.sh" http://127.0.0.1:$port image $IMG 40 $conc $pid | grep '^LOAD')
      echo "$round $name c=$conc $(echo "${out#LOAD }" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["rps"], j["failed"], j["non2xx"], j["server_peak_rss_kb"])')"
      kill $pid; wait $pid 2>/dev/null; rm -rf $dir
    done
  done
done
