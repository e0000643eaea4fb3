# shellcheck shell=bash
# server-flags: --enable-v2
# Scenario v2-keys: the v2 HTTP API as ETCDCTL_API=2 etcdctl and raw HTTP
# clients (Docker's libkv, flannel, python-etcd) use it. etcd 3.4 needs
# --enable-v2; etcd-rs serves v2 by default and accepts the flag. Indexes,
# expiry times and in-order key names are masked (lib/mask.sh): etcd's v2
# index counts its own membership writes, etcd-rs's is the log index.

section "etcdctl v2: set, get, mk, update, extended and json output"
v2 set /foo bar
v2 get /foo
v2 -o extended get /foo
v2 -o json get /foo
v2 mk /foo again
v2 mk /new v
v2 update /foo baz
v2 update /missing x
v2 get /missing
v2 set /foo/child x
v2 set /a/b/c deep
v2 get /a
v2 get /a/b/c/d

section "etcdctl v2: directories"
v2 mkdir /dir
v2 mkdir /dir
v2 setdir /dir
v2 updatedir /dir
v2 set /dir v
v2 set /dir/x 1
v2 set /dir/y 2
v2 set /dir/_hidden h
v2 ls --sort /dir
v2 ls --sort -p /
v2 ls --sort --recursive /
v2 get /dir/_hidden
v2 rmdir /dir
v2 rm /dir
v2 rm --dir /dir
v2 rm /dir/x
v2 -o extended rm /dir/y
v2 rm --recursive /dir
v2 ls --sort /

section "etcdctl v2: compare and swap, compare and delete"
v2 set /cas one
v2 set /cas two --swap-with-value one
v2 set /cas three --swap-with-value one
v2 set /cas three --swap-with-index 999999
v2 rm /cas --with-value nope
v2 rm /cas --with-value two

section "etcdctl v2: in-order keys and TTLs"
v2 mk --in-order /queue job1
v2 mk --in-order /queue job2
v2 ls --sort /queue
v2 set /ttl v --ttl 100
v2 -o json get /ttl
v2 update /ttl w
v2 -o json get /ttl
v2 set /short v --ttl 1
# Two seconds for the directory: the set below must land inside it before it
# expires, however slowly etcdctl starts.
v2 mkdir /tdir --ttl 2
v2 set /tdir/inner x
sleep 4
v2 get /short
v2 ls /tdir
v2 get /tdir/inner

section "etcdctl v2: watch from the history, exec-watch"
i=$(v2_index)
v2 set /w/a 1 >/dev/null
v2 set /w/b 2 >/dev/null
v2 rm /w/a >/dev/null
v2 watch --after-index "$i" /w/a
v2 watch --after-index "$i" --recursive /w
v2 watch --after-index "$((i + 2))" --recursive /w
# exec-watch runs each command in its own goroutine: the lines come in any order.
CTL_TIMEOUT=3 sorted v2 exec-watch --after-index "$i" --recursive /w -- sh -c 'echo "$ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE"'

section "etcdctl v2: members and health"
v2 member list
v2 cluster-health

section "raw HTTP: reads"
http GET '/v2/keys/?sorted=true'
http PUT /v2/keys/h/one -d value=1
http GET /v2/keys/h/one
http GET '/v2/keys/h?recursive=true&sorted=true'
http GET '/v2/keys/h?quorum=true'
http HEAD /v2/keys/h/one
http GET /v2/keys/nothing/below
http GET /v2/keys/h/one/below

section "raw HTTP: writes, parameters from query or form body"
http PUT '/v2/keys/h/q?value=fromquery'
http PUT '/v2/keys/h/q?value=fromquery' -d value=frombody
http PUT '/v2/keys/h/q?prevExist=false' -d value=x
http PUT '/v2/keys/h/q?prevExist=true' -d value=y
http PUT '/v2/keys/h/q?prevValue=y' -d value=z
http PUT '/v2/keys/h/q?prevValue=nope' -d value=z
http PUT '/v2/keys/h/q?noValueOnSuccess=true' -d value=n
http PUT /v2/keys/h/nv -d value=x
http DELETE '/v2/keys/h/nv?noValueOnSuccess=true'
# X-Raft-Index (etcd's committed index) is never behind the write it answers.
behind=0
for n in 1 2 3 4 5; do
  behind=$((behind + $(curl -s -i -X PUT "http://$ENDPOINT/v2/keys/h/ri" -d value=$n | tr -d '\r' |
    awk -F': ' 'tolower($1) == "x-etcd-index" { e = $2 } tolower($1) == "x-raft-index" { r = $2 } END { print (r + 0 < e + 0) }')))
done
check "writes whose X-Raft-Index is behind their X-Etcd-Index: $behind of 5"
http PUT /v2/keys/h/ct -H 'Content-Type: Application/X-WWW-Form-Urlencoded' -d value=up
http PUT /v2/keys/h/html --data-urlencode 'value=<a href="?x=1&y=2">'
# Values are bytes: ones that are not UTF-8 are kept whole and compared byte by
# byte (only the status codes are recorded: Go escapes such bytes in JSON as
# \ufffd, etcd-rs writes U+FFFD itself, which JSON readers take alike).
http_code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "bytes: $(http_code -X PUT "http://$ENDPOINT/v2/keys/h/b8?value=%FF") \
$(http_code -X PUT "http://$ENDPOINT/v2/keys/h/b8?prevValue=%FE" -d value=x) \
$(http_code -X PUT "http://$ENDPOINT/v2/keys/h/b8?prevValue=%FF" -d value=%FE%FF) \
$(http_code -X PUT "http://$ENDPOINT/v2/keys/h/b8?prevValue=%FE%FE" -d value=z) \
$(http_code -X PUT "http://$ENDPOINT/v2/keys/h/raw" --data-binary $'value=\xff\xfe')"
http PUT '/v2/keys/h/d?dir=true'
http PUT '/v2/keys/h/d?dir=true'
http PUT '/v2/keys/h/d' -d value=x
http PUT '/v2/keys/h/q?dir=true'
http POST /v2/keys/h/inorder -d value=first
http DELETE '/v2/keys/h/q?dir=true'
http PUT '/v2/keys/h/d/x' -d value=1
http DELETE '/v2/keys/h/d?dir=true'
http DELETE '/v2/keys/h/d?recursive=true'
http DELETE /v2/keys/
http PUT /v2/keys/ -d value=x
http PUT '/v2/keys/h/t' -d value=v -d ttl=100
http PUT '/v2/keys/h/t?prevExist=true' -d refresh=true -d ttl=50
http PUT '/v2/keys/h/t' -d refresh=true -d ttl=50
http GET /v2/keys/h/t
http PUT '/v2/keys/h/t?prevExist=true' -d ttl= -d value=permanent

section "raw HTTP: parameter errors"
http GET '/v2/keys/h?recursive=maybe'
http GET '/v2/keys/h?sorted=2'
http GET '/v2/keys/h?waitIndex=x'
http PUT '/v2/keys/h/e?prevIndex=-1' -d value=x
http PUT '/v2/keys/h/e?prevValue=' -d value=x
http PUT '/v2/keys/h/e' -d value=x -d ttl=abc
http PUT '/v2/keys/h/e?ttl=%2B5' -d value=x
http GET '/v2/keys/h?wait=true&waitIndex=%2B1'
http PUT '/v2/keys/h/e?prevExist=perhaps' -d value=x
http PUT '/v2/keys/h/e?wait=true' -d value=x
http PUT '/v2/keys/h/e?refresh=true' -d value=x -d ttl=5
http PUT '/v2/keys/h/e?refresh=true' -d value=
http PUT '/v2/keys/h/e?a=%zz' -d value=x
http PUT /v2/keys/h/e -d 'value=a;b'
http GET '/v2/keys/h?recursive=true;sorted=true'
http PUT '/v2/keys/h/e?a=%zz' -d 'value=a;b'
http HEAD '/v2/keys/h?wait=true'
http PATCH /v2/keys/h/e
http OPTIONS /v2/keys/h/e -H 'Origin: http://ui.example'

section "raw HTTP: body size (Go's ParseForm reads at most 10 MiB of a form)"
make_file v2big.txt 3000000                  # a 3 MB value: above gRPC's limits, fine for v2
make_file v2huge.txt 11000000                # an 11 MB form: refused
http PUT '/v2/keys/h/big?noValueOnSuccess=true' -H 'Expect:' --data-urlencode value@v2big.txt
check "stored value length: $(curl -s "http://$ENDPOINT/v2/keys/h/big" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["node"]["value"]))')"
http PUT /v2/keys/h/huge -H 'Expect:' --data-urlencode value@v2huge.txt
http GET /v2/keys/h/huge
curl -s -o /dev/null -X DELETE "http://$ENDPOINT/v2/keys/h/big"   # its prevNode holds the value

section "raw HTTP: watches"
i=$(v2_index)
http PUT /v2/keys/hw/k -d value=1
http GET "/v2/keys/hw/k?wait=true&waitIndex=$((i + 1))"
http GET "/v2/keys/hw?wait=true&recursive=true&waitIndex=$((i + 1))"
for n in $(seq 1 1010); do
  curl -s -o /dev/null -X PUT "http://$ENDPOINT/v2/keys/churn" -d "value=$n"
done
http GET "/v2/keys/hw/k?wait=true&waitIndex=$((i + 1))"

# A long poll that waits: the response comes when the key is written.
curl -s --max-time 20 "http://$ENDPOINT/v2/keys/live?wait=true" >"$SCRATCH/live" &
poll=$!
metric_reaches etcd_debugging_store_watchers 1
v2 set /live now
wait "$poll"
check "long poll answered: $(cat "$SCRATCH/live")"
curl -s --max-time 20 "http://$ENDPOINT/v2/keys/livedir?wait=true&recursive=true" >"$SCRATCH/live" &
poll=$!
metric_reaches etcd_debugging_store_watchers 1
v2 set /livedir/_hidden x
v2 set /livedir/sub/key y
wait "$poll"
check "recursive long poll answered: $(cat "$SCRATCH/live")"

section "raw HTTP: members, machines, version, health"
http GET /v2/members
http GET /v2/members/
http GET /v2/members/leader
http GET /v2/members/abc
http HEAD /v2/members
http DELETE /v2/members
http DELETE /v2/members/xyz
http GET /v2/machines
http GET /version
http GET /health
http GET /v2/nothing
# etcd serves these for GET only (HEAD included), /v2/machines for GET and HEAD, and
# /metrics for any method; /metrics's text differs, so only its status is compared.
for path in /version /health /v2/stats/self /v2/stats/leader /v2/stats/store /v2/machines; do
  http HEAD "$path"
  http POST "$path"
done
http OPTIONS /version
# Monitoring tools read the stats; etcd writes their fields in its structs' order.
for path in /v2/stats/self /v2/stats/leader /v2/stats/store; do
  check "$path fields: $(curl -s "http://$ENDPOINT$path" | python3 -c 'import json, sys
d = json.load(sys.stdin, object_pairs_hook=lambda pairs: dict(pairs, _order=[k for k, _ in pairs]))
print(d["_order"], d.get("leaderInfo", {}).get("_order", ""))')"
done
check "POST /metrics: $(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$ENDPOINT/metrics")"
