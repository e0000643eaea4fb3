# shellcheck shell=bash
# server-flags: --quota-backend-bytes=1500000
# Scenario v3-quota: a small space quota is filled (unrecorded: how many puts
# fit depends on the storage engine), then everything an operator sees and does
# is recorded: the refused put, the NOSPACE alarm in `alarm list` and `endpoint
# status`, reads, deletes and txns that only read or delete still working,
# compaction + defrag + disarm, and writes coming back. Nothing recorded shows a revision, which depends on
# the number of puts that fit.

section "fill the quota (not recorded)"
value=$(head -c 100000 /dev/zero | tr '\0' v)
filled=no
for i in $(seq 1 100); do
  if ! timeout 10 "$CTL_BIN" --endpoints="$ENDPOINT" put "fill/$((i % 4))" "$value" >/dev/null 2>&1; then
    filled=yes
    break
  fi
done
check "quota reached: $filled"

section "refused while the alarm is active"
ctl put small v
ctl alarm list
ctl -w json alarm list
ctl -w table endpoint status
ctl get fill/1 --keys-only
ctl put fill/1 again
# Txns that add nothing pass the quota: one that reads, one that deletes.
ctl_in $'\nget fill/1 --keys-only\n\n\n' txn
ctl_in $'mod("fill/1") > "0"\n\ndel fill/1\n\n\n' txn
ctl alarm list

section "free space, defragment, disarm"
ctl del fill/ --prefix
# The revision depends on how many puts fit: compact unrecorded.
rev=$(current_rev)
check "compaction: $(ctl_quiet compaction --physical "$rev" | sed -E 's/[0-9]+/<REV>/')"
ctl defrag
ctl alarm disarm
ctl alarm list
ctl put small v
ctl get small
