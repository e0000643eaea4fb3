# shellcheck shell=bash
# Masking of values that legitimately differ between two servers (or two runs
# of the same server). Everything NOT masked here must match byte for byte;
# in particular key revisions (create/mod revision, header revision), versions
# of keys, counts, values and error texts are compared as-is.
#
# Masked:
#   * the member's client/peer ports           -> <CLIENT_PORT>, <PEER_PORT>
#   * member id (decimal and hex), cluster id  -> <MEMBER_ID>, <MEMBER_ID_HEX>,
#     (exact values learned from the server,      <CLUSTER_ID>, <CLUSTER_ID_HEX>
#      plus the JSON/fields slots that carry them)
#   * raft term / raft index / applied index   -> <RAFT_TERM>, <RAFT_INDEX>, ...
#   * server version string, db sizes           -> <VERSION>, <DB_SIZE>, ...
#   * timings ("took"), client log timestamps and gRPC target names;
#   * KV hashes of `endpoint hashkv` (they depend on the storage engine's
#     encoding) and the size in `snapshot save`'s log line.
#
# Cluster scenarios (mask_cluster_transcript) name every value after its
# member instead: <CPORT:m0>, <PPORT:m0>, <ID:m0> (decimal), <ID_HEX:m0>,
# from a masks file that lists the exact values (see there); the "leader"
# field of `endpoint status` becomes <LEADER> when it is a known member id.
#
# The masks are anchored on field names / fixed positions rather than on
# "any number", so a wrong revision or count still shows up in the diff.
# After the sed masks, lib/normalize.awk normalizes table layout, masks
# timing/leader table columns and sorts rows where the scenario asked for it.

_MASK_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Extra rules for a run (sed -E arguments), set by run.sh: with --ctl, clientv3's zap
# retry warnings, which etcdctl-rs does not imitate, are dropped on both sides.
declare -ga MASK_EXTRA=()

# Rules shared by single-member and cluster transcripts (sed -E arguments).
_MASK_COMMON=(
  -e 's/"raft_term":[0-9]+/"raft_term":<RAFT_TERM>/g'
  -e 's/"raftTerm":[0-9]+/"raftTerm":<RAFT_TERM>/g'
  -e 's/"raftIndex":[0-9]+/"raftIndex":<RAFT_INDEX>/g'
  -e 's/"raftAppliedIndex":[0-9]+/"raftAppliedIndex":<RAFT_APPLIED_INDEX>/g'
  -e 's/"dbSize":[0-9]+/"dbSize":<DB_SIZE>/g'
  -e 's/"dbSizeInUse":[0-9]+/"dbSizeInUse":<DB_SIZE_IN_USE>/g'
  -e 's/"version":"[^"]*"/"version":"<VERSION>"/g'
  -e 's/"took":"[^"]*"/"took":"<TOOK>"/g'
  -e 's/^"RaftTerm" : [0-9]+$/"RaftTerm" : <RAFT_TERM>/'
  -e 's/^"RaftIndex" : [0-9]+$/"RaftIndex" : <RAFT_INDEX>/'
  -e 's/^"RaftAppliedIndex" : [0-9]+$/"RaftAppliedIndex" : <RAFT_APPLIED_INDEX>/'
  -e 's/^"DBSize" : [0-9]+$/"DBSize" : <DB_SIZE>/'
  -e 's/^"Version" : "[^"]*"$/"Version" : "<VERSION>"/'
  -e 's/^"Took" : .*$/"Took" : <TOOK>/'
  -e 's/(is healthy: successfully committed proposal: took = ).*$/\1<TOOK>/'
  -e 's/^(\{"level":"[a-z]+","ts":)"[^"]*"/\1"<TS>"/'
  -e 's/^(\{"level":"[a-z]+","ts":)[0-9.e+]+/\1"<TS>"/'
  -e 's/"target":"endpoint:\/\/client-[0-9a-f-]+\//"target":"endpoint:\/\/client-<UUID>\//'
  # endpoint hashkv: "ENDPOINT, HASH" lines, JSON and fields (tables: normalize.awk).
  -e 's/^((http:\/\/)?127\.0\.0\.1:<[^>]+>, )[0-9]+$/\1<HASH>/'
  -e 's/"hash":[0-9]+/"hash":<HASH>/g'
  -e 's/^"Hash" : [0-9]+$/"Hash" : <HASH>/'
  # snapshot save's zap log lines: download time (float seconds) and size.
  -e 's/("msg":"fetched snapshot",.*"size":)"[^"]*"/\1"<SIZE>"/'
  -e 's/("msg":"fetched snapshot",.*"took":)[0-9.e+-]+/\1<TOOK>/'
  # v2: store indexes differ (etcd counts its own membership writes; etcd-rs
  # uses log indexes), and so do expiry times and in-order key names.
  -e 's/"(modifiedIndex|createdIndex|index)":[0-9]+/"\1":<INDEX>/g'
  -e 's/"expiration":"[^"]*"/"expiration":"<TIME>"/g'
  -e 's/^(x-etcd-index|x-raft-index|x-raft-term): [0-9]+$/\1: <INDEX>/'
  -e 's/^(Created-Index|Modified-Index|Index): [0-9]+$/\1: <INDEX>/'
  -e 's/^(Error: +[0-9]+: .*) \[[0-9]+\]$/\1 [<INDEX>]/'
  -e 's/\[[0-9]+ != [0-9]+\]/[<INDEX> != <INDEX>]/g'
  -e 's/cleared \[[0-9]+\/[0-9]+\]/cleared [<INDEX>\/<INDEX>]/g'
  -e 's/--after-index [0-9]+/--after-index <INDEX>/g'
  -e 's/(waitIndex|prevIndex)=[0-9]+/\1=<INDEX>/g'
  -e 's/\/[0-9]{20}/\/<SEQ>/g'
  # Lease ids are random (hex in text, decimal in JSON).
  -e 's/(^|[ =\/])[0-9a-f]{12,16}([ |]|$)/\1<LEASE>\2/g'
  -e 's/"(ID|id)":[0-9]{6,}/"\1":<LEASE>/g'
  -e 's/^"ID" : [0-9]{6,}$/"ID" : <LEASE>/'
  -e 's/"lease":[0-9]{6,}/"lease":<LEASE>/g'
)

# _id_rules DEC LABEL: append to the array `rules` the sed arguments that
# replace the id DEC (decimal) and its hex form by <LABEL> / <LABEL_HEX>
# style placeholders given as $2 (decimal) and $3 (hex).
_id_rules() {
  local dec=$1 dlabel=$2 hlabel=$3 hex
  [[ $dec =~ ^[0-9]+$ ]] || return 0
  hex=$(printf '%x' "$dec")   # printf handles unsigned 64-bit decimals in bash >= 4
  rules+=(-e "s/(^|[^0-9])$dec([^0-9]|\$)/\1<$dlabel>\2/g"
          -e "s/(^|[^0-9a-f])$hex([^0-9a-f]|\$)/\1<$hlabel>\2/g")
}

# mask_transcript IN OUT CPORT PPORT MEMBER_ID_DEC CLUSTER_ID_DEC
# (single-member scenarios)
mask_transcript() {
  local in=$1 out=$2 cport=$3 pport=$4 mid=$5 cid=$6
  local -a rules=()
  _id_rules "$mid" MEMBER_ID MEMBER_ID_HEX
  _id_rules "$cid" CLUSTER_ID CLUSTER_ID_HEX
  # The exact-value substitutions are applied twice because adjacent matches
  # share the delimiter character (e.g. "ID":X,"leader":X).
  sed -E \
    -e "s/127\\.0\\.0\\.1:$cport([^0-9]|\$)/127.0.0.1:<CLIENT_PORT>\\1/g" \
    -e "s/127\\.0\\.0\\.1:$pport([^0-9]|\$)/127.0.0.1:<PEER_PORT>\\1/g" \
    "${rules[@]}" "${rules[@]}" \
    -e 's/"cluster_id":[0-9]+/"cluster_id":<CLUSTER_ID>/g' \
    -e 's/"member_id":[0-9]+/"member_id":<MEMBER_ID>/g' \
    -e 's/^"ClusterID" : [0-9]+$/"ClusterID" : <CLUSTER_ID>/' \
    -e 's/^"MemberID" : [0-9]+$/"MemberID" : <MEMBER_ID>/' \
    "${_MASK_COMMON[@]}" "${MASK_EXTRA[@]}" \
    -e 's/^(127\.0\.0\.1:<CLIENT_PORT>, [^,]*, )[^,]*, [^,]*, ([^,]*, [^,]*, )[^,]*, [^,]*, [^,]*, /\1<VERSION>, <DB_SIZE>, \2<RAFT_TERM>, <RAFT_INDEX>, <RAFT_APPLIED_INDEX>, /' \
    "$in" | LC_ALL=C awk -f "$_MASK_LIB/normalize.awk" >"$out"
}

# mask_cluster_transcript IN OUT MASKS (cluster scenarios). MASKS holds one
# value per line, written by run.sh (initial members) and by the scenario
# (members it adds, extra ports):
#   port VALUE LABEL    127.0.0.1:VALUE        -> 127.0.0.1:<LABEL>  (e.g. CPORT:m0)
#   member DEC NAME     the member id DEC      -> <ID:NAME>, hex form -> <ID_HEX:NAME>
#   cluster DEC         the cluster id         -> <CLUSTER_ID>, <CLUSTER_ID_HEX>
# Ids are only masked as exact known values: an id that no member has (e.g. a
# leader id of 0, or a member id that differs between members' views) stays
# visible. Unlike the single-member masks, "member_id"/"cluster_id" fields are
# not masked by position.
mask_cluster_transcript() {
  local in=$1 out=$2 masks=$3 kind value label
  local -a rules=() ports=()
  while read -r kind value label; do
    case $kind in
      port) [[ $value =~ ^[0-9]+$ ]] &&
              ports+=(-e "s/127\\.0\\.0\\.1:$value([^0-9]|\$)/127.0.0.1:<$label>\\1/g") ;;
      member) _id_rules "$value" "ID:$label" "ID_HEX:$label" ;;
      cluster) _id_rules "$value" CLUSTER_ID CLUSTER_ID_HEX ;;
    esac
  done <"$masks"
  # etcdctl prints "Member %16x added to cluster %16x": an id with a leading
  # zero nibble is space-padded, so padding is collapsed before ids are masked.
  sed -E \
    "${ports[@]}" \
    -e 's/(Member|cluster) {2,}([0-9a-f])/\1 \2/g' \
    "${rules[@]}" "${rules[@]}" \
    -e 's/"leader":<ID:[^>]*>/"leader":<LEADER>/g' \
    "${_MASK_COMMON[@]}" "${MASK_EXTRA[@]}" \
    -e 's/^((http:\/\/)?127\.0\.0\.1:<CPORT:[^>]*>, [^,]*, )[^,]*, [^,]*, [^,]*, ([^,]*, )[^,]*, [^,]*, [^,]*, /\1<VERSION>, <DB_SIZE>, <IS_LEADER>, \3<RAFT_TERM>, <RAFT_INDEX>, <RAFT_APPLIED_INDEX>, /' \
    "$in" | LC_ALL=C awk -f "$_MASK_LIB/normalize.awk" >"$out"
}
