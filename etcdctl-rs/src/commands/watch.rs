//! `watch`, one-shot or interactive (`-i`), printing events as etcdctl 3.4 does, and
//! running a command per event when one follows `--`.

use std::ffi::OsString;
use std::io::BufRead;

use clap::Parser;
use etcd_proto::etcdserverpb::watch_request::RequestUnion;
use etcd_proto::etcdserverpb::{WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse};
use etcd_rs_client::Client;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::cli::{GlobalArgs, WatchArgs};
use crate::error::{CtlError, EXIT_BAD_ARGS, EXIT_BAD_CONNECTION, EXIT_ERROR, EXIT_INVALID_INPUT};
use crate::printer::Printer;
use etcd_rs_server::mvcc::prefix_end;

/// etcdctl's `ExitInterrupted`: the server ended the watch.
const EXIT_INTERRUPTED: i32 = 5;
/// clientv3's message for a watch whose start revision was compacted.
const COMPACTED: &str = "etcdserver: mvcc: required revision has been compacted";

/// What one watch asks for: the request and the command to run per event.
struct WatchSpec {
    create: WatchCreateRequest,
    exec: Vec<OsString>,
}

/// How many words follow `--` in `words` (the command to run per event): clap keeps
/// them with the positional arguments, so they are counted from the raw words.
fn exec_len<T: PartialEq<str>>(words: &[T]) -> usize {
    words.iter().position(|w| w == "--").map_or(0, |i| words.len() - i - 1)
}

/// Splits `key [range_end] [-- cmd ...]` and checks it as etcdctl's `getWatchChan`.
fn spec(args: &WatchArgs, exec_words: usize) -> Result<WatchSpec, String> {
    let raw = &args.args;
    let cut = raw.len().saturating_sub(exec_words);
    let (positional, exec) = (&raw[..cut], raw[cut..].to_vec());
    let positional: Vec<Vec<u8>> = positional.iter().map(|a| a.as_encoded_bytes().to_vec()).collect();
    let (key, range_end) = match positional.as_slice() {
        [] => return Err("bad number of arguments".into()),
        [k] => (k.clone(), Vec::new()),
        [k, e] if !args.prefix => (k.clone(), e.clone()),
        [_, _] => return Err("`range_end` and `--prefix` are mutually exclusive".into()),
        _ => return Err("too many arguments".into()),
    };
    let range_end = if args.prefix { prefix_end(&key) } else { range_end };
    let create =
        WatchCreateRequest { key, range_end, start_revision: args.rev, prev_kv: args.prev_kv, ..Default::default() };
    Ok(WatchSpec { create, exec })
}

/// Runs `watch`.
pub async fn run(g: &GlobalArgs, args: WatchArgs) -> Result<(), CtlError> {
    if args.interactive {
        return interactive(g).await;
    }
    let argv: Vec<OsString> = std::env::args_os().collect();
    let spec = spec(&args, exec_len(&argv)).map_err(CtlError::bad_args)?;
    let (client, printer) = super::client_and_printer(g).await?;
    printer.watch(&WatchResponse::default())?;
    let (_tx, stream) = open(&client, spec.create.clone()).await?;
    print_events(stream, printer, spec.exec).await;
    Err(CtlError::new(EXIT_INTERRUPTED, "watch is canceled by the server"))
}

/// Opens a watch stream with `create` as its first request.
async fn open(
    client: &Client,
    create: WatchCreateRequest,
) -> Result<(mpsc::Sender<WatchRequest>, tonic::Streaming<WatchResponse>), CtlError> {
    let (tx, rx) = mpsc::channel(16);
    // Queued before the call: etcd sends the response headers only with a first message.
    tx.send(WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) })
        .await
        .map_err(|e| CtlError::new(EXIT_BAD_CONNECTION, e))?;
    let stream = client
        .watch()
        .watch(ReceiverStream::new(rx))
        .await
        .map_err(|s| CtlError::new(EXIT_ERROR, etcd_rs_client::Error::from(s)))?
        .into_inner();
    Ok((tx, stream))
}

/// Prints what clientv3 hands a watcher: events, progress notifications, cancellation.
/// Returns when the stream ends or the server cancels the watch.
async fn print_events(mut stream: tonic::Streaming<WatchResponse>, printer: Printer, exec: Vec<OsString>) {
    while let Some(Ok(resp)) = stream.next().await {
        // clientv3 swallows the creation notice.
        if resp.created && !resp.canceled {
            continue;
        }
        if resp.canceled {
            let reason = if resp.compact_revision != 0 { COMPACTED.to_string() } else { resp.cancel_reason.clone() };
            super::write_stderr(format!("watch was canceled ({reason})\n").as_bytes());
        }
        let progress = resp.events.is_empty() && !resp.canceled && resp.compact_revision == 0;
        if progress && let Some(h) = &resp.header {
            super::write_stdout(format!("progress notify: {}\n", h.revision).as_bytes());
        }
        // The format was checked before the watch began.
        super::write_stdout(&printer.watch(&resp).unwrap_or_default());
        if !exec.is_empty() {
            for e in &resp.events {
                run_exec(&exec, e, resp.header.as_ref().map_or(0, |h| h.revision)).await;
            }
        }
        if resp.canceled {
            return;
        }
    }
}

/// Runs the command of `watch ... -- cmd` for one event, with etcdctl's environment.
async fn run_exec(exec: &[OsString], e: &etcd_proto::mvccpb::Event, revision: i64) {
    let kv = e.kv.clone().unwrap_or_default();
    let kind = if e.r#type == 1 { "DELETE" } else { "PUT" };
    let quote = |b: &[u8]| crate::go::quote::quote(b);
    let status = tokio::process::Command::new(&exec[0])
        .args(&exec[1..])
        .env("ETCD_WATCH_REVISION", revision.to_string())
        .env("ETCD_WATCH_EVENT_TYPE", format!("\"{kind}\""))
        .env("ETCD_WATCH_KEY", quote(&kv.key))
        .env("ETCD_WATCH_VALUE", quote(&kv.value))
        .status()
        .await;
    if let Err(err) = status {
        super::write_stderr(format!("command {:?} error ({err})\n", exec[0]).as_bytes());
    }
}

/// One line of `watch -i`, parsed with the flags of `watch`.
#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
struct Line {
    #[command(flatten)]
    args: WatchArgs,
}

/// `watch -i`: `watch [options] key [range_end]` and `progress` lines from stdin.
async fn interactive(g: &GlobalArgs) -> Result<(), CtlError> {
    let (client, printer) = super::client_and_printer(g).await?;
    printer.watch(&WatchResponse::default())?;
    let (lines_tx, mut lines) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut reader = stdin.lock();
        loop {
            let mut line = String::new();
            let read = reader.read_line(&mut line);
            let end = !matches!(read, Ok(n) if n > 0 && line.ends_with('\n'));
            if lines_tx.send(if end { None } else { Some(line) }).is_err() || end {
                return;
            }
        }
    });
    let mut streams = Vec::new();
    while let Some(Some(line)) = lines.recv().await {
        let line = line.trim_end_matches('\n');
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        match words.first().map(String::as_str) {
            None => super::write_stderr(format!("Invalid command: {line} (watch and progress supported)\n").as_bytes()),
            Some("watch") if words.len() < 2 => {
                super::write_stderr(format!("Invalid command {line} (command type expected)\n").as_bytes())
            }
            Some("watch") => {
                let parsed = Line::try_parse_from(words[1..].iter().map(OsString::from))
                    .map_err(|e| CtlError::new(EXIT_BAD_ARGS, e.to_string().lines().next().unwrap_or_default()))?;
                match spec(&parsed.args, exec_len(&words)) {
                    Err(e) => super::write_stderr(format!("Invalid command {line} ({e})\n").as_bytes()),
                    Ok(spec) => {
                        let (tx, stream) = open(&client, spec.create).await?;
                        streams.push(tx);
                        tokio::spawn(print_events(stream, printer, spec.exec));
                    }
                }
            }
            Some("progress") => {
                for tx in &streams {
                    let request =
                        WatchRequest { request_union: Some(RequestUnion::ProgressRequest(WatchProgressRequest {})) };
                    tx.send(request).await.map_err(|e| CtlError::new(EXIT_ERROR, e))?;
                }
            }
            Some(_) => super::write_stderr(format!("Invalid command {line} (only support watch)\n").as_bytes()),
        }
    }
    Err(CtlError::new(EXIT_INVALID_INPUT, "Error reading watch request line: EOF"))
}
