# Structural normalization of a transcript, run by lib/mask.sh AFTER the sed
# value masks (so ids and ports are already placeholders such as <ID:m0>).
# mawk/gawk compatible; run with LC_ALL=C so that sorting is bytewise.
#
# A record is a "$ etcdctl ..." line plus everything up to the next record,
# "### " section heading or "[check] " line (see lib/scenario.sh for the
# layout). Per record:
#
#   * Tables (commands with "-w table"): every cell is trimmed and every
#     border run "-----" is shortened to "-", because column widths follow
#     the masked values (ids, ports, timings). The number of rows and columns
#     and every unmasked cell still compare exactly. Cells of the columns
#     VERSION, DB SIZE, IS LEADER, RAFT TERM, RAFT INDEX, RAFT APPLIED INDEX,
#     TOOK and HASH are replaced by <VERSION>, <DB_SIZE>, ... (leader-, timing-,
#     size- and storage-dependent); the leader itself is checked by
#     "[check] leader" lines.
#   * Records marked "[rows sorted after masking]" (scenario helper `sorted`):
#     the rows of the output are sorted, because etcd orders members by their
#     random ids and `endpoint health` prints in completion order:
#       - table: the data rows (header and borders stay in place);
#       - JSON: the elements of the first array of objects on each line;
#       - anything else: all stdout lines; stderr lines are sorted as well.
#   * Everywhere: the comma-separated entries of ETCD_INITIAL_CLUSTER="..."
#     (printed by `member add`, in member-id order) are sorted.

BEGIN {
  MARK_SORTED = "[rows sorted after masking]"
  masked_hdr["VERSION"] = 1
  masked_hdr["DB SIZE"] = 1
  masked_hdr["IS LEADER"] = 1
  masked_hdr["RAFT TERM"] = 1
  masked_hdr["RAFT INDEX"] = 1
  masked_hdr["RAFT APPLIED INDEX"] = 1
  masked_hdr["TOOK"] = 1
  masked_hdr["HASH"] = 1
  n = 0
}

# Lines that start a new record (and so end the previous one).
function starts_record(l) {
  return l ~ /^\$ etcdctl( |$)/ || l ~ /^### / || l ~ /^\[check\] /
}

function trim(s) {
  sub(/^ +/, "", s)
  sub(/ +$/, "", s)
  return s
}

# Insertion sort of arr[lo..hi] (string order).
function sort_range(arr, lo, hi,   i, j, t) {
  for (i = lo + 1; i <= hi; i++) {
    t = arr[i]
    j = i - 1
    while (j >= lo && arr[j] > t) {
      arr[j + 1] = arr[j]
      j--
    }
    arr[j + 1] = t
  }
}

# Sort the elements of the first JSON array of objects ("[{...},{...}]") in s.
# Depth- and string-aware, so nested objects/arrays stay intact.
function sort_json_array(s,   start, i, c, depth, instr, esc, cnt, el, elbeg, stop, out, j) {
  start = index(s, "[{")
  if (start == 0) return s
  depth = 0; instr = 0; esc = 0; cnt = 0; stop = 0
  for (i = start + 1; i <= length(s); i++) {
    c = substr(s, i, 1)
    if (instr) {
      if (esc) esc = 0
      else if (c == "\\") esc = 1
      else if (c == "\"") instr = 0
      continue
    }
    if (c == "\"") { instr = 1; continue }
    if (c == "{" || c == "[") {
      if (depth == 0) elbeg = i
      depth++
      continue
    }
    if (c == "}" || c == "]") {
      if (depth == 0) { stop = i; break }
      depth--
      if (depth == 0) el[++cnt] = substr(s, elbeg, i - elbeg + 1)
    }
  }
  if (!stop || cnt < 2) return s
  sort_range(el, 1, cnt)
  out = el[1]
  for (j = 2; j <= cnt; j++) out = out "," el[j]
  return substr(s, 1, start) out substr(s, stop)
}

function sort_initial_cluster(l,   body, parts, m, i, out) {
  body = substr(l, length("ETCD_INITIAL_CLUSTER=\"") + 1)
  body = substr(body, 1, length(body) - 1)
  m = split(body, parts, ",")
  sort_range(parts, 1, m)
  out = parts[1]
  for (i = 2; i <= m; i++) out = out "," parts[i]
  return "ETCD_INITIAL_CLUSTER=\"" out "\""
}

# Normalize the table lines rec[lo..hi] in place; returns nothing. Sets
# tbl_hdr (index of the header row) and tbl_first/tbl_last (data rows).
function normalize_table(lo, hi,   i, l, m, cells, k, c, out, seen_hdr, colmask) {
  seen_hdr = 0
  tbl_hdr = 0; tbl_first = 0; tbl_last = 0
  for (i = lo; i <= hi; i++) {
    l = rec[i]
    if (l ~ /^\+[-+]+\+$/) {
      gsub(/-+/, "-", l)
      rec[i] = l
      continue
    }
    if (l !~ /^\|.*\|$/) continue
    m = split(substr(l, 2, length(l) - 2), cells, "|")
    out = "|"
    for (k = 1; k <= m; k++) {
      c = trim(cells[k])
      if (!seen_hdr) {
        if (c in masked_hdr) { colmask[k] = c; gsub(/ /, "_", colmask[k]) }
      } else if (k in colmask) {
        c = "<" colmask[k] ">"
      }
      out = out " " c " |"
    }
    rec[i] = out
    if (!seen_hdr) { seen_hdr = 1; tbl_hdr = i }
    else { if (!tbl_first) tbl_first = i; tbl_last = i }
  }
}

function flush(   i, j, cmd, sorted, body, out_lo, out_hi, err_lo, err_hi, is_table) {
  if (n == 0) return
  if (rec[1] ~ /^\$ etcdctl/) {
    cmd = rec[1]
    body = 2
    sorted = 0
    # marker lines written by lib/scenario.sh right after the command line
    while (body <= n && (rec[body] == MARK_SORTED || rec[body] ~ /^\[retried until /)) {
      if (rec[body] == MARK_SORTED) sorted = 1
      body++
    }
    # stdout: from body up to a transcript marker or the record's final blank line
    out_lo = body; out_hi = body - 1; err_lo = 0; err_hi = -1
    for (i = body; i <= n; i++) {
      if (rec[i] == "[stderr]" || rec[i] ~ /^\[exit [0-9]+\]$/ || rec[i] == "[no newline at end of output]") break
      if (i == n && rec[i] == "") break
      out_hi = i
    }
    for (i = out_hi + 1; i <= n; i++) {
      if (rec[i] == "[stderr]") {
        err_lo = i + 1; err_hi = i
        for (j = err_lo; j <= n; j++) {
          if (rec[j] ~ /^\[exit [0-9]+\]$/ || rec[j] == "[no newline at end of output]") break
          if (j == n && rec[j] == "") break
          err_hi = j
        }
        break
      }
    }
    is_table = (cmd ~ / -w table( |$)/ || cmd ~ / --write-out[= ]table( |$)/ || cmd ~ / -w=table( |$)/)
    if (is_table) {
      normalize_table(out_lo, out_hi)
      if (sorted && tbl_first) sort_range(rec, tbl_first, tbl_last)
    } else if (sorted) {
      if (out_hi >= out_lo && rec[out_lo] ~ /^[[{]/) {
        for (i = out_lo; i <= out_hi; i++) rec[i] = sort_json_array(rec[i])
      } else {
        sort_range(rec, out_lo, out_hi)
      }
    }
    if (sorted && err_lo) sort_range(rec, err_lo, err_hi)
  }
  for (i = 1; i <= n; i++) {
    if (rec[i] ~ /^ETCD_INITIAL_CLUSTER=".*"$/) rec[i] = sort_initial_cluster(rec[i])
    print rec[i]
  }
  n = 0
}

{
  if (starts_record($0)) flush()
  rec[++n] = $0
}

END { flush() }
