#!/bin/bash
# usage: scripts/abuse/disk-full.sh BINARY PORT — as root: 66 uploads of corpus photos to `pixgate serve` on a
# 4 MiB tmpfs with 3 MiB taken (two rounds), then the 3 MiB freed (a third round); counts the answers and checks
# every object answered 200 against the hash in its key.
BIN=$1; PORT=$2
DIR=$(mktemp -d /tmp/pixgate-measure.XXXX)
mount -t tmpfs -o size=4m tmpfs "$DIR" || exit 1
C="$(cd "$(dirname "$0")/../../../shared/corpus/images" && pwd)"
head -c $((3 << 20)) /dev/zero > "$DIR/ballast"  # 3 MiB taken: 1 MiB left for objects
PIXGATE_DATA_DIR="$DIR" PIXGATE_ADDR=127.0.0.1:$PORT "$BIN" serve >"$DIR.log" 2>&1 &
PID=$!
for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.2; done
PHOTOS="2569067123_aca715a2ee_o.jpg Channel_digital_image_CMYK_color.jpg DSCN0010.jpg Landscape_1.jpg Landscape_2.jpg Landscape_3.jpg Landscape_4.jpg Landscape_5.jpg Landscape_6.jpg Landscape_7.jpg Landscape_8.jpg Portrait_1.jpg Portrait_2.jpg Portrait_3.jpg Portrait_4.jpg Portrait_7.jpg canon_hdr_NO.jpg concert.jpg gain-map.jpg iphone_hdr_YES.jpg jolla.jpg progressive-3.jpg"
declare -A count; ok_keys=()
for round in 1 2 3; do
[ $round = 3 ] && { rm "$DIR/ballast"; echo "answers after 2 rounds: $(for c in "${!count[@]}"; do printf "%s×%s " "${count[$c]}" "$c"; done); ballast removed (3 MiB freed), round 3:"; unset count; declare -A count; }
for p in $PHOTOS; do
  out=$(curl -s -w '\n%{http_code}' -F "file=@$C/$p;type=image/jpeg" "http://127.0.0.1:$PORT/upload?type=image")
  code=$(tail -n1 <<<"$out"); body=$(head -n -1 <<<"$out")
  count[$code]=$(( ${count[$code]:-0} + 1 ))
  [ "$code" = 200 ] && ok_keys+=("$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["key"])' <<<"$body")")
  [ "$code" != 200 ] && [ -z "${shown[$code]}" ] && { declare -A shown; shown[$code]=1; echo "  first $code body: $body"; }
done; done
kill $PID; wait $PID 2>/dev/null
complete=0; bad=0
for k in $(printf '%s\n' "${ok_keys[@]}" | sort -u); do
  f="$DIR/$k"; stem=$(basename "$k"); stem=${stem%%.*}
  if [ -f "$f" ] && [ "$(sha256sum "$f" | cut -c1-32)" = "$stem" ]; then complete=$((complete+1)); else bad=$((bad+1)); echo "  BAD: $k ($(stat -c %s "$f" 2>/dev/null) bytes)"; fi
done
empty_sidecars=$(find "$DIR/.meta" -type f -size 0 2>/dev/null | wc -l)
temps=$(find "$DIR" -name '*.tmp' | wc -l)
echo "answers in round 3: $(for c in "${!count[@]}"; do printf '%s×%s ' "${count[$c]}" "$c"; done)"
echo "(all rounds) distinct keys answered 200: $((complete+bad)); complete & hash-verified: $complete; truncated/empty/missing: $bad; empty sidecars: $empty_sidecars; temp files left: $temps"
echo "error log lines: $(grep -c ERROR "$DIR.log")"
umount "$DIR"; rmdir "$DIR"
