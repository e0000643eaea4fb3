# shellcheck shell=bash
# shellcheck disable=SC2016  # single-quoted txn scripts contain literal quotes/parens
# Scenario v3-kv: the KV API as seen through etcdctl 3.4 (spec §3.1-3.7, §5,
# Appendix A.1-A.3, A.6-A.8). Runs against a fresh single-member server whose
# store is at revision 1. Helpers (ctl, ctl_in, ctl_file, section, current_rev,
# make_file) come from tests/compat/lib/scenario.sh.
#
# Every command's stdout, stderr and exit code is recorded; the comments give
# the expected revision after each write to make transcripts easy to read.

section "fresh store"
ctl -w json get foo                         # header revision 1, no kvs
ctl get foo

section "put (simple, json, fields, --prev-kv)"
ctl put foo bar                             # rev 2
ctl put foo bar2 --prev-kv                  # rev 3, prints previous pair
ctl -w json put foo bar3                    # rev 4
ctl -w json put foo bar4 --prev-kv          # rev 5
ctl -w fields put foo bar5 --prev-kv        # rev 6
ctl -w json put newkey v --prev-kv          # rev 7, no prev_kv for a new key
ctl -w simple put foo1 v1                   # rev 8
ctl put foo2 v2                             # rev 9
ctl put zoo z                               # rev 10
ctl put a1 x3                               # rev 11
ctl put a2 x2                               # rev 12
ctl put a3 x1                               # rev 13
ctl put a2 x2b                              # rev 14: a2 version 2
ctl put -- -dash -value                     # rev 15: '--' lets key/value start with '-'
ctl put sp 'value with  spaces'             # rev 16
ctl put empty ''                            # rev 17: empty value is allowed

section "put errors and special flags"
ctl put '' x                                # key is not provided
ctl put missing1 --ignore-value             # key not found (ignore-value on missing key)
ctl put missing2 v --ignore-lease           # key not found (ignore-lease on missing key)
ctl put foo newval --ignore-value           # rejected client-side by etcdctl
ctl put foo --ignore-value                  # rev 18: keeps value bar5, version +1
ctl -w json put foo --ignore-value --prev-kv  # rev 19
ctl get foo
ctl put foo v --lease=1234                  # requested lease not found
ctl put foo v --ignore-lease --lease=1234   # lease is provided (or client error)
ctl put                                     # argument error (exit 128)

section "get: single key, formats"
ctl get foo
ctl get foo --print-value-only
ctl get foo --keys-only
ctl -w json get foo
ctl -w json get foo --keys-only
ctl -w fields get foo
ctl -w simple get foo
ctl get foo --hex
ctl get sp
ctl get -- -dash
ctl -w json get empty
ctl get missing
ctl -w json get missing
ctl -w fields get missing
ctl get foo --consistency s
ctl get foo --consistency l
ctl -w json get foo --print-value-only      # print-value-only only for simple
ctl_beyond34 -w table get foo               # table not supported (etcdctl-rs draws one)
ctl -w yaml get foo                         # unsupported output format
ctl get                                     # argument error
ctl_beyond34 get foo --count-only           # etcdctl 3.4 has no --count-only (3.5's, in etcdctl-rs)

section "get: ranges"
ctl get foo --prefix
ctl get foo --prefix --keys-only
ctl get foo --prefix --print-value-only
ctl get foo --prefix --limit 2
ctl -w json get foo --prefix --limit 2      # more=true, count=3
ctl -w json get foo --prefix --limit 3      # more=false
ctl -w json get foo --prefix --limit 1 --keys-only
ctl get foo foo2                            # [foo, foo2)
ctl get a1 a3
ctl get zoo a1                              # range_end < key: empty
ctl -w json get zoo a1
ctl get '' --from-key
ctl get foo1 --from-key
ctl get foo1 --from-key --limit 2
ctl -w json get '' --from-key --limit 2 --keys-only
ctl get '' --prefix --keys-only
ctl -w json get a --prefix
ctl get nomatch --prefix
ctl -w json get nomatch --prefix
ctl get foo --prefix --from-key             # mutually exclusive flags

section "get: sorting"
for target in CREATE KEY MODIFY VALUE VERSION; do
  for order in ASCEND DESCEND; do
    ctl get a --prefix --sort-by "$target" --order "$order"
  done
done
ctl get a --prefix --sort-by VALUE                # order defaults to ASCEND
ctl get a --prefix --order DESCEND                # sort-by defaults to KEY
ctl get '' --prefix --order DESCEND --sort-by MODIFY --limit 3 --keys-only
ctl -w json get a --prefix --sort-by VERSION --order DESCEND --limit 1
ctl get a --prefix --sort-by BOGUS
ctl get a --prefix --order SIDEWAYS

section "get: historical revisions"
ctl get foo --rev 2
ctl get foo --rev 3
ctl -w json get foo --rev 5
ctl get foo --prefix --rev 8
ctl -w json get foo --prefix --rev 8 --limit 1
ctl get a2 --rev 12
ctl get a2 --rev 13 --print-value-only
ctl get foo --rev 1                         # before the first write: nothing
ctl -w json get foo --rev 1
rev=$(current_rev)
ctl get foo --rev "$rev"                    # the current revision is fine
ctl get foo --rev "$((rev + 1))"            # future revision
ctl -w json get foo --rev 100000            # future revision

section "del"
ctl del foo1                                # 1
ctl del nothing                             # 0, no new revision
ctl -w json del nothing
ctl del foo --prefix --prev-kv              # foo, foo2
ctl put foo again
ctl -w json del zoo --prev-kv
ctl -w fields del zoo
ctl del a1 a3 --prev-kv                     # range [a1, a3): a1, a2
ctl -w json del a3 --prev-kv
ctl put r1 1
ctl put r2 2
ctl put r3 3
ctl del r2 --from-key                       # r2, r3, sp... everything >= r2
ctl get '' --from-key --keys-only
ctl -w json del '' --prefix                 # everything
ctl -w json get '' --prefix
ctl del                                     # argument error
ctl -w json get foo --rev 6                 # history survives deletes

section "txn"
ctl put k1 v1
ctl put k5 five
ctl_in $'value("k1") = "v1"\n\nput k2 v2\nget k1\ndel k3\n\nput k4 v4\n\n' txn
ctl_in $'value("k1") = "nope"\n\nput k2 v2\n\nput k4 v4\nget k4\n\n' txn
ctl get k --prefix
ctl_in $'mod("k1") > "0"\nver("k1") = "1"\n\nget k1\n\n\n' -w json txn
ctl_in $'value("k1") = "nope"\n\nput x y\n\nget k --prefix --keys-only\ndel k4 --prev-kv\n\n' -w json txn
ctl_in $'value("k1") = "v1"\n\nput k2 v2\n\nput k4 v4\n\n' txn -i
ctl_in $'version("k2") = "2"\ncreate("k1") < "1000"\nmod("k2") != "0"\nvalue("k5") > "a"\n\nput k5 six --prev-kv\nget k5\n\n\n' txn
ctl_in $'val("k5") < "a"\n\n\nget k5\n\n' txn
ctl_in $'c("missing") = "0"\nversion("missing") = "0"\nmod("missing") = "0"\n\nput created yes\n\n\n' txn
ctl_in $'value("missing") = ""\n\nput never x\n\nget never\n\n' txn
ctl_in $'value("missing") != "x"\n\nput never x\n\n\n' txn
ctl_in $'ver("k1") > "5"\nval("k1") = "v1"\n\n\ndel k --prefix\n\n' txn
# no compares: reads inside the txn see the txn's earlier writes
ctl_in $'\nput t1 a\nput t2 b\nget t --prefix\ndel t0\nget t1 t2\n\n\n' -w json txn
ctl_in $'\nput t3 c\nget t --prefix\ndel t1 --prev-kv\nget t --prefix --keys-only\n\n\n' txn
ctl_in $'\nput t4 a\ndel t4\n\n\n' txn          # put, then delete of the same key: duplicate key
ctl_in $'\n\nput t5 a\ndel t5\n\n' txn         # same, in the failure branch (not run, still checked)
ctl_in $'\nget k1\n\n\n' -w json txn            # read-only txn: no new revision
ctl_in $'value("k1") = "zz"\n\nput k9 x\n\nget k1\n\n' -w json txn   # failed compare, read-only failure branch
ctl -w json get k1
ctl_in $'\nput a 1\nput a 2\n\n\n' txn          # duplicate key
ctl_in $'\ndel d --prefix\nput d1 x\n\n\n' txn  # put inside a delete range: duplicate key
ctl_in $'\ndel d1\ndel d --prefix\n\n\n' txn     # overlapping deletes are fine
ctl_in $'bogus\n\n\n\n' txn                      # malformed comparison
ctl_in $'value("k1") = "v1"\n\nbogus k\n\n\n' txn
ctl_in $'value("k1") = "v1"\n\n' txn             # EOF before the failure block

section "txn op limit (max-txn-ops 128)"
ops128=$(for ((i = 0; i < 128; i++)); do printf 'put op%03d v\n' "$i"; done)
ops129=$(for ((i = 0; i < 129; i++)); do printf 'put op%03d v\n' "$i"; done)
printf '\n%s\n\n\n' "$ops129" >toomany.txt
printf '\n%s\n\n\n' "$ops128" >ok128.txt
ctl_file toomany.txt txn                     # 129 puts: too many operations
ctl -w json get op --prefix --keys-only --limit 1
ctl_file ok128.txt -w json txn               # 128 puts: accepted
ctl -w json get op --prefix --keys-only --limit 2
ctl del op --prefix

section "request size limits (max-request-bytes 1.5 MiB, client max send 2 MiB)"
make_file big2mib.txt 2097152                # 2 MiB value
make_file big.txt 1600000                    # above the server's request limit
make_file big2.txt 1572000                   # just below it
ctl_file big2mib.txt put big2mib             # client-side: larger than max send
ctl_file big.txt put big                     # server: request is too large
ctl_file big2.txt put big2                   # accepted
ctl get big --prefix --keys-only
ctl -w json get big --prefix --keys-only
ctl del big --prefix

section "compaction"
ctl put c c1
ctl put c c2
ctl put c c3
rev=$(current_rev)
ctl compaction "$((rev - 1))"
ctl -w json compaction "$((rev - 1))"        # already compacted
ctl compaction "$((rev - 2))"                # below the compaction: compacted
ctl get c --rev "$((rev - 2))"               # compacted
ctl -w json get c --rev "$((rev - 1))"       # exactly at the compaction: works
ctl get c --rev "$rev"
ctl compaction --physical "$rev"
ctl get c --rev "$((rev - 1))"               # now compacted
ctl get c --rev 2
ctl get c --rev "$((rev + 1))"               # future
ctl compaction 100000                        # future
ctl compaction "$((rev + 1))"                # future
ctl compaction 0
ctl compaction abc                           # argument error
ctl get c
ctl put c c4
ctl -w json get c
ctl_in $'\nget c --rev 2\n\n\n' txn          # compacted revision inside a txn
ctl_in $'\nget c --rev 100000\n\n\n' txn     # future revision inside a txn
printf -v input '\nget c --rev %d\n\n\n' "$rev"
ctl_in "$input" txn                          # exactly at the compaction revision

section "authentication disabled, no users or roles"
etcdctl_only ctl --user root:secret put authk v   # the client's Authenticate is told auth is off
etcdctl_only ctl --user root:secret get authk
etcdctl_only ctl user list
etcdctl_only ctl -w json role list
etcdctl_only ctl user get root
etcdctl_only ctl role get reader
etcdctl_only ctl user delete nobody
etcdctl_only ctl role delete nobody
etcdctl_only ctl user grant-role nobody reader
etcdctl_only ctl user revoke-role nobody reader
etcdctl_only ctl role grant-permission nobody read k
etcdctl_only ctl role revoke-permission nobody k
etcdctl_only ctl auth enable
etcdctl_only ctl auth disable

section "cluster and maintenance views"
ctl endpoint health
ctl -w json endpoint health
ctl endpoint status
ctl -w json endpoint status
ctl -w fields endpoint status
ctl member list
ctl -w json member list
ctl -w fields member list

section "final state"
ctl -w json get '' --prefix
