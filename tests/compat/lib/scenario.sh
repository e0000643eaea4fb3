# shellcheck shell=bash
# Helpers available to scenario scripts (tests/compat/scenarios/*.sh).
#
# run.sh executes every scenario once per server, in a fresh bash process with
#   ENDPOINT     host:port of the server under test (127.0.0.1:PORT)
#   CTL_BIN  path to the real etcdctl 3.4
#   SCRATCH      an empty private directory (cwd is set to it) for input files
# and stdout redirected into the transcript. A scenario is plain bash that
# calls the helpers below; it must be deterministic, i.e. produce the same
# transcript on every run against the same server implementation (no clocks,
# no random data, no absolute paths in recorded command lines).
#
# Transcript format (modelled on Appendix A of the spec):
#   $ etcdctl <args as typed>            (endpoint flag omitted: it differs)
#   <stdout verbatim>
#   [stderr]
#   <stderr verbatim>                    (only if non-empty)
#   [exit N]                             (only if N != 0)
#   <empty line>
# A missing trailing newline on stdout is made visible explicitly, so that
# "OK" and "OK\n" do not compare equal.

# Commands get a hard timeout so a hung server cannot hang CI; a timeout shows
# up as "[exit 124]" in the transcript.
CTL_TIMEOUT=${CTL_TIMEOUT:-30}

# section TITLE: a heading in the transcript (makes diffs easier to read).
section() { printf '### %s\n\n' "$*"; }

# _ctl_record STDIN_FILE SHOWN_SUFFIX ARGS...: run etcdctl, record everything.
_ctl_record() {
  local stdin=$1 suffix=$2 rc=0 shown
  shift 2
  local out=$SCRATCH/.stdout err=$SCRATCH/.stderr
  timeout "$CTL_TIMEOUT" "$CTL_BIN" --endpoints="$ENDPOINT" "$@" \
    <"$stdin" >"$out" 2>"$err" || rc=$?
  # printf %q gives an unambiguous, copy-pastable rendering of the arguments.
  shown=$(printf ' %q' "$@")
  printf '$ etcdctl%s%s\n' "$shown" "$suffix"
  _ctl_dump "$out"
  if [[ -s $err ]]; then
    printf '[stderr]\n'
    _ctl_dump "$err"
  fi
  if ((rc != 0)); then
    printf '[exit %d]\n' "$rc"
  fi
  printf '\n'
}

# _ctl_dump FILE: print FILE, flagging a missing final newline.
_ctl_dump() {
  [[ -s $1 ]] || return 0
  cat -- "$1"
  if [[ $(tail -c 1 -- "$1" | od -An -tx1 | tr -d ' \n') != 0a ]]; then
    printf '\n[no newline at end of output]\n'
  fi
}

# ctl ARGS...: run `etcdctl ARGS` with empty stdin.
ctl() { _ctl_record /dev/null '' "$@"; }

# ctl_in TEXT ARGS...: run `etcdctl ARGS` with TEXT on stdin (e.g. txn); the
# transcript shows TEXT as a here-document so the input is part of the record.
ctl_in() {
  local text=$1
  shift
  printf '%s' "$text" >"$SCRATCH/.stdin"
  printf '<<EOF\n%s\nEOF\n' "$text" | sed '1!s/^/  | /' >"$SCRATCH/.shown"
  _ctl_record "$SCRATCH/.stdin" " $(cat "$SCRATCH/.shown")" "$@"
}

# ctl_file FILE ARGS...: run `etcdctl ARGS < FILE` (FILE relative to SCRATCH;
# only its name is shown, scenarios describe the content in a comment/section).
ctl_file() {
  local file=$1
  shift
  _ctl_record "$file" " < $(basename -- "$file")" "$@"
}

# ctl_quiet ARGS...: run etcdctl and print its stdout for use in $(...) without
# recording anything (e.g. to learn the current revision). Failures yield "".
ctl_quiet() {
  timeout "$CTL_TIMEOUT" "$CTL_BIN" --endpoints="$ENDPOINT" "$@" </dev/null 2>/dev/null || true
}

# current_rev: the store revision from a Range response header. Scenarios use
# it to build compaction/--rev arguments instead of hard-coding numbers, so a
# revision bug shows up once (in the recorded outputs) rather than cascading.
current_rev() {
  local r
  r=$(ctl_quiet -w json get compat-probe-nonexistent-key |
    sed -nE 's/.*"revision":([0-9]+).*/\1/p')
  echo "${r:-0}"
}

# make_file NAME SIZE [CHAR]: create SCRATCH/NAME with SIZE bytes of CHAR
# (default "x"), no trailing newline. Used for request-size limits.
make_file() {
  local name=$1 size=$2 char=${3:-x}
  head -c "$size" /dev/zero | tr '\0' "$char" >"$SCRATCH/$name"
}
