#!/bin/bash
# A real Ceph cluster on loopback, for calamari development and integration tests: 1 mon, 1 mgr, N memstore OSDs
# spread over H CRUSH hosts (all processes run on this machine). Needs Debian's packages
# ceph-mon ceph-osd ceph-mgr ceph-common (and python3-rados for librados from Python).
#
#   ceph-dev-cluster.sh up      start a fresh cluster in $CLUSTER_DIR (default /tmp/ceph-mini)
#   ceph-dev-cluster.sh down    stop every daemon it started (by pid file) and remove nothing
#   ceph-dev-cluster.sh env     print 'export CEPH_CONF=...' for the running cluster
#
# Settings (environment): CLUSTER_DIR, OSDS (3), HOSTS (1), MON_PORT (40000), OSD_MB (1024 per OSD),
# DASHBOARD_PORT (unset: no dashboard; set: enable mgr dashboard on 127.0.0.1 with user admin),
# CALAMARI_NOTIFY_PORT (unset: not loaded; set: the mgr loads its modules from $CLUSTER_DIR/mgr-modules,
# links to the system's plus this repository's calamari_notify, and enables it on 127.0.0.1:PORT).
set -euo pipefail
D=${CLUSTER_DIR:-/tmp/ceph-mini}
OSDS=${OSDS:-3}; HOSTS=${HOSTS:-1}; MON_PORT=${MON_PORT:-40000}; OSD_MB=${OSD_MB:-1024}

down() {
  [ -d "$D/run" ] || return 0
  local pids=""
  for f in "$D"/run/*.pid; do
    [ -e "$f" ] || continue
    local p; p=$(cat "$f"); kill "$p" 2>/dev/null && pids="$pids $p"; rm -f "$f"
  done
  for i in $(seq 1 50); do
    local alive=""; for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && return 0; sleep 0.2
  done
  for p in $alive; do kill -9 "$p" 2>/dev/null || true; done
}

up() {
  down; rm -rf "$D"; mkdir -p "$D/run" "$D/log" "$D/mona" "$D/mgrx"
  local fsid; fsid=$(uuidgen)
  local leaf=0; [ "$HOSTS" -gt 1 ] && leaf=1
  cat > "$D/ceph.conf" <<C
[global]
fsid = $fsid
mon host = 127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $D/keyring
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
mon data = $D/mon\$id
mgr data = $D/mgr\$id
osd data = $D/osd\$id
osd objectstore = memstore
memstore device bytes = $((OSD_MB * 1024 * 1024))
osd pool default size = $([ "$HOSTS" -gt 1 ] && echo 2 || echo 1)
osd pool default min size = 1
osd crush chooseleaf type = $leaf
mon allow pool delete = true
mon allow pool size one = true
mon warn on pool no redundancy = false
client mount timeout = 30
rados mon op timeout = 30
[mgr]
keyring = $D/mgr\$id/keyring
[osd]
keyring = $D/osd\$id/keyring
# a test machine is often busy: Ceph skips scrubs above this load average per CPU (default 0.5)
osd scrub load threshold = 1000
osd scrub during recovery = true
C
  if [ -n "${CALAMARI_NOTIFY_PORT:-}" ]; then
    # never written into /usr/share: a module path of its own, the system's modules linked into it
    local sys_modules repo; sys_modules=/usr/share/ceph/mgr; repo=$(cd "$(dirname "$0")/.." && pwd)
    mkdir -p "$D/mgr-modules"
    for m in "$sys_modules"/*; do ln -s "$m" "$D/mgr-modules/"; done
    ln -s "$repo/collector/ceph_mgr/calamari_notify" "$D/mgr-modules/calamari_notify"
    printf '[mgr.x]\nmgr module path = %s\n' "$D/mgr-modules" >> "$D/ceph.conf"
  fi
  for i in $(seq 0 $((OSDS - 1))); do
    printf '[osd.%d]\ncrush location = root=default host=node%d\n' "$i" $((i % HOSTS)) >> "$D/ceph.conf"
  done
  export CEPH_CONF=$D/ceph.conf
  ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
  monmaptool --create --add a "127.0.0.1:$MON_PORT" --fsid "$fsid" "$D/monmap" >/dev/null
  ceph-mon --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
  ceph-mon -i a
  ceph auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' > "$D/mgrx/keyring"
  ceph-mgr -i x
  for i in $(seq 0 $((OSDS - 1))); do
    local uuid id; uuid=$(uuidgen); id=$(ceph osd new "$uuid")
    mkdir -p "$D/osd$id"
    ceph-authtool --create-keyring "$D/osd$id/keyring" --gen-key -n "osd.$id" >/dev/null
    ceph auth add "osd.$id" osd 'allow *' mon 'allow profile osd' mgr 'allow profile osd' -i "$D/osd$id/keyring" >/dev/null
    ceph-osd -i "$id" --mkfs --osd-uuid "$uuid" >/dev/null 2>&1
    ceph-osd -i "$id" 2>/dev/null
  done
  # wait until every OSD is up and in
  for t in $(seq 1 120); do
    [ "$(ceph osd stat -f json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["num_up_osds"])')" = "$OSDS" ] && break; sleep 0.5
  done
  if [ -n "${DASHBOARD_PORT:-}" ]; then
    # the monitors know a module's options only once the mgr has reported them: on a loaded
    # machine that can be seconds after it started
    for t in $(seq 1 60); do ceph config set mgr mgr/dashboard/ssl false 2>/dev/null && break; sleep 1; done
    ceph config set mgr mgr/dashboard/server_addr 127.0.0.1
    ceph config set mgr mgr/dashboard/server_port "$DASHBOARD_PORT"
    ceph mgr module enable dashboard
    printf '%s' "${DASHBOARD_PASSWORD:-Dashb0ard-pass}" > "$D/dashboard.pw"
    for t in $(seq 1 60); do ceph dashboard ac-user-create admin -i "$D/dashboard.pw" administrator >/dev/null 2>&1 && break; sleep 1; done
  fi
  if [ -n "${CALAMARI_NOTIFY_PORT:-}" ]; then
    # the mgr lists its modules (and their options) in the mgr map once it runs: refused until then
    for t in $(seq 1 60); do ceph mgr module enable calamari_notify >/dev/null 2>&1 && break; sleep 1; done
    ceph config set mgr mgr/calamari_notify/server_addr 127.0.0.1
    ceph config set mgr mgr/calamari_notify/server_port "$CALAMARI_NOTIFY_PORT"
    ceph mgr module ls -f json | python3 -c 'import json,sys; sys.exit("calamari_notify" not in json.load(sys.stdin)["enabled_modules"])'
  fi
  echo "cluster $fsid up: $OSDS OSDs on $HOSTS hosts; export CEPH_CONF=$D/ceph.conf"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) echo "export CEPH_CONF=$D/ceph.conf" ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
