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
#   * timings ("took"), client log timestamps and gRPC target names.
#
# The masks are anchored on field names / fixed positions rather than on
# "any number", so a wrong revision or count still shows up in the diff.

# mask_transcript IN OUT CPORT PPORT MEMBER_ID_DEC CLUSTER_ID_DEC
mask_transcript() {
  local in=$1 out=$2 cport=$3 pport=$4 mid=$5 cid=$6
  local mhex chex
  local -a exact=()
  # printf handles unsigned 64-bit decimals correctly in bash >= 4.
  if [[ $mid =~ ^[0-9]+$ ]]; then
    mhex=$(printf '%x' "$mid")
    exact+=(-e "s/(^|[^0-9])$mid([^0-9]|\$)/\\1<MEMBER_ID>\\2/g"
            -e "s/(^|[^0-9a-f])$mhex([^0-9a-f]|\$)/\\1<MEMBER_ID_HEX>\\2/g")
  fi
  if [[ $cid =~ ^[0-9]+$ ]]; then
    chex=$(printf '%x' "$cid")
    exact+=(-e "s/(^|[^0-9])$cid([^0-9]|\$)/\\1<CLUSTER_ID>\\2/g"
            -e "s/(^|[^0-9a-f])$chex([^0-9a-f]|\$)/\\1<CLUSTER_ID_HEX>\\2/g")
  fi
  # The exact-value substitutions are applied twice because adjacent matches
  # share the delimiter character (e.g. "ID":X,"leader":X).
  sed -E \
    -e "s/127\\.0\\.0\\.1:$cport([^0-9]|\$)/127.0.0.1:<CLIENT_PORT>\\1/g" \
    -e "s/127\\.0\\.0\\.1:$pport([^0-9]|\$)/127.0.0.1:<PEER_PORT>\\1/g" \
    "${exact[@]}" "${exact[@]}" \
    \
    -e 's/"cluster_id":[0-9]+/"cluster_id":<CLUSTER_ID>/g' \
    -e 's/"member_id":[0-9]+/"member_id":<MEMBER_ID>/g' \
    -e 's/"raft_term":[0-9]+/"raft_term":<RAFT_TERM>/g' \
    -e 's/"raftTerm":[0-9]+/"raftTerm":<RAFT_TERM>/g' \
    -e 's/"raftIndex":[0-9]+/"raftIndex":<RAFT_INDEX>/g' \
    -e 's/"raftAppliedIndex":[0-9]+/"raftAppliedIndex":<RAFT_APPLIED_INDEX>/g' \
    -e 's/"dbSize":[0-9]+/"dbSize":<DB_SIZE>/g' \
    -e 's/"dbSizeInUse":[0-9]+/"dbSizeInUse":<DB_SIZE_IN_USE>/g' \
    -e 's/"version":"[^"]*"/"version":"<VERSION>"/g' \
    -e 's/"took":"[^"]*"/"took":"<TOOK>"/g' \
    \
    -e 's/^"ClusterID" : [0-9]+$/"ClusterID" : <CLUSTER_ID>/' \
    -e 's/^"MemberID" : [0-9]+$/"MemberID" : <MEMBER_ID>/' \
    -e 's/^"RaftTerm" : [0-9]+$/"RaftTerm" : <RAFT_TERM>/' \
    -e 's/^"RaftIndex" : [0-9]+$/"RaftIndex" : <RAFT_INDEX>/' \
    -e 's/^"RaftAppliedIndex" : [0-9]+$/"RaftAppliedIndex" : <RAFT_APPLIED_INDEX>/' \
    -e 's/^"DBSize" : [0-9]+$/"DBSize" : <DB_SIZE>/' \
    -e 's/^"Version" : "[^"]*"$/"Version" : "<VERSION>"/' \
    -e 's/^"Took" : .*$/"Took" : <TOOK>/' \
    \
    -e 's/(is healthy: successfully committed proposal: took = ).*$/\1<TOOK>/' \
    -e 's/^(127\.0\.0\.1:<CLIENT_PORT>, [^,]*, )[^,]*, [^,]*, ([^,]*, [^,]*, )[^,]*, [^,]*, [^,]*, /\1<VERSION>, <DB_SIZE>, \2<RAFT_TERM>, <RAFT_INDEX>, <RAFT_APPLIED_INDEX>, /' \
    \
    -e 's/^(\{"level":"[a-z]+","ts":)"[^"]*"/\1"<TS>"/' \
    -e 's/^(\{"level":"[a-z]+","ts":)[0-9.e+]+/\1"<TS>"/' \
    -e 's/"target":"endpoint:\/\/client-[0-9a-f-]+\//"target":"endpoint:\/\/client-<UUID>\//' \
    "$in" >"$out"
}
