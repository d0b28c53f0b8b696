#!/bin/bash
# A demo in a scratch folder: start the built daemon on a small maillog,
# let a client fail SASL logins, and watch the ban reach the Postfix map.
#
#   test/demo.sh [BUILD_DIR]        (default: build)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
daemon=$build/daemon/autoblacklistd
postmap=$(command -v postmap || echo /usr/sbin/postmap)
[ -x "$daemon" ] || { echo "no daemon at $daemon: build first (meson setup build && meson compile -C build)"; exit 1; }
[ -x "$postmap" ] || { echo "postmap is missing: install Debian's postfix package (test/install-deps)"; exit 1; }

dir=$(mktemp -d /tmp/autoblacklist-demo.XXXXXX)
mkdir "$dir/postfix"
: > "$dir/postfix/main.cf"
touch -d @0 "$dir/postfix/main.cf"   # an old main.cf keeps postmap fast
: > "$dir/maillog"
printf '# my own entries, kept as they are\n192.0.2.25 OK\n' > "$dir/access"
cat > "$dir/autoblacklist.conf" <<CONF
log_file = $dir/maillog
rules = $top/rules
access_map = hash:$dir/access
auth_map = hash:$dir/autoblacklist-ehlo
postmap = $postmap -c $dir/postfix
state_file = $dir/state
control_socket = $dir/control
log_target = stderr
CONF

echo "== scratch folder: $dir"
"$daemon" -c "$dir/autoblacklist.conf" 2> "$dir/daemon.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "^# BEGIN postfix-autoblacklist" "$dir/access" 2>/dev/null && break; sleep 0.05; done

now() { date '+%b %e %H:%M:%S'; }
echo "== appending to $dir/maillog: a normal session, 3 failed SASL logins from 203.0.113.7,"
echo "   one of them with a user name that tries to frame 192.0.2.99"
{
        echo "$(now) mx postfix/smtpd[4242]: connect from mail.example.net[198.51.100.20]"
        echo "$(now) mx postfix/smtpd[4242]: 4F2A1B3C4D: client=mail.example.net[198.51.100.20]"
        echo "$(now) mx postfix/smtpd[4243]: connect from unknown[203.0.113.7]"
        echo "$(now) mx postfix/smtpd[4243]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=admin"
        echo "$(now) mx postfix/smtpd[4243]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=unknown[192.0.2.99]"
        echo "$(now) mx postfix/smtpd[4243]: warning: unknown[203.0.113.7]: SASL PLAIN authentication failed: authentication failure, sasl_username=info"
} >> "$dir/maillog"

start=$(date +%s%N)
for _ in $(seq 100); do
        "$postmap" -c "$dir/postfix" -q 203.0.113.7 "hash:$dir/access" >/dev/null 2>&1 && break
        sleep 0.02
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "== postmap -q 203.0.113.7 hash:$dir/access  (answered after ${ms} ms)"
"$postmap" -c "$dir/postfix" -q 203.0.113.7 "hash:$dir/access" || echo "(not banned?)"
echo "== postmap -q 192.0.2.99 (the framed address):"
"$postmap" -c "$dir/postfix" -q 192.0.2.99 "hash:$dir/access" || echo "(not in the map: good)"
echo "== $dir/access:"
cat "$dir/access"
kill -TERM $pid
wait $pid || true
trap - EXIT
echo "== what the daemon logged:"
cat "$dir/daemon.log"
echo "== done; remove the scratch folder with: rm -r $dir"
