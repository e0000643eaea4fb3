//! grpc-go (and so etcdctl) sends the whole endpoint URL as the HTTP/2 `:authority` when it
//! dials an endpoint given with a scheme (`etcdctl --endpoints=http://host:port endpoint
//! status`, and every `--cluster` command, which dials the advertised client URLs). etcd
//! accepts that; the `h2` crate resets such a stream with PROTOCOL_ERROR. This adapter sits
//! between the socket and the HTTP server and rewrites `:authority: http://host:port` to
//! `host:port` before `h2` sees it. Everything else passes through untouched.
//!
//! A client uses one authority per connection, so the first header block decides: if its
//! authority is fine, the connection passes through untouched from then on (no cost for
//! ordinary clients). Otherwise every header block of the connection is rewritten: header
//! blocks are HPACK-compressed against a dynamic table the client maintains, so once one is
//! rewritten all later ones must be too. The adapter decodes each with the client's table
//! and re-encodes it with its own encoder, whose table the server's decoder then mirrors.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use loona_hpack::{Decoder, Encoder};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The HTTP/2 client connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER: usize = 9;
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// The server's default SETTINGS_MAX_FRAME_SIZE; re-encoded blocks are split to fit it.
const MAX_FRAME: usize = 16_384;
/// A frame larger than this cannot be legal for our server; refuse rather than buffer it.
const MAX_ACCEPTED_FRAME: usize = 16 * 1024 * 1024;

/// Whether the connection turned out to speak HTTP/2.
enum Mode {
    /// Not enough bytes yet to tell.
    Undecided,
    /// HTTP/1: passed through untouched.
    Passthrough,
    /// HTTP/2: frames are parsed until the first header block shows whether rewriting is
    /// needed.
    Http2,
    /// HTTP/2 with a URL authority: every header block is rewritten.
    Rewrite,
}

/// A header block split over HEADERS and CONTINUATION frames, being collected.
struct PendingBlock {
    stream: [u8; 4],
    flags: u8,
    priority: Option<[u8; 5]>,
    fragment: Vec<u8>,
}

/// Rewrites the inbound byte stream of one connection.
pub struct InboundRewriter {
    mode: Mode,
    raw: Vec<u8>,
    decoder: Decoder<'static>,
    encoder: Encoder<'static>,
    pending: Option<PendingBlock>,
}

impl Default for InboundRewriter {
    fn default() -> Self {
        Self { mode: Mode::Undecided, raw: Vec::new(), decoder: Decoder::new(), encoder: Encoder::new(), pending: None }
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl InboundRewriter {
    /// Whether everything from now on passes through unchanged.
    pub fn passes_through(&self) -> bool {
        matches!(self.mode, Mode::Passthrough)
    }

    /// Consumes `input`, appending whatever can be forwarded so far to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        if let Mode::Passthrough = self.mode {
            out.extend_from_slice(input);
            return Ok(());
        }
        self.raw.extend_from_slice(input);
        if let Mode::Undecided = self.mode {
            let n = self.raw.len().min(PREFACE.len());
            if self.raw[..n] != PREFACE[..n] {
                self.mode = Mode::Passthrough;
                out.append(&mut self.raw);
                return Ok(());
            }
            if n < PREFACE.len() {
                return Ok(());
            }
            out.extend_from_slice(PREFACE);
            self.raw.drain(..PREFACE.len());
            self.mode = Mode::Http2;
        }
        let mut at = 0;
        while self.raw.len() - at >= FRAME_HEADER {
            let h = &self.raw[at..at + FRAME_HEADER];
            let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
            if len > MAX_ACCEPTED_FRAME {
                return Err(bad("HTTP/2 frame too large"));
            }
            if self.raw.len() - at < FRAME_HEADER + len {
                break;
            }
            let (kind, flags) = (h[3], h[4]);
            let stream = [h[5], h[6], h[7], h[8]];
            let payload = self.raw[at + FRAME_HEADER..at + FRAME_HEADER + len].to_vec();
            match kind {
                HEADERS => self.headers(stream, flags, &payload, out)?,
                CONTINUATION => self.continuation(flags, &payload, out)?,
                _ => out.extend_from_slice(&self.raw[at..at + FRAME_HEADER + len]),
            }
            at += FRAME_HEADER + len;
            if let Mode::Passthrough = self.mode {
                // The first header block was fine: forward the rest as it comes.
                out.extend_from_slice(&self.raw[at..]);
                self.raw.clear();
                return Ok(());
            }
        }
        self.raw.drain(..at);
        Ok(())
    }

    fn headers(&mut self, stream: [u8; 4], flags: u8, payload: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        let mut body = payload;
        let mut pad = 0;
        if flags & PADDED != 0 {
            pad = usize::from(*body.first().ok_or_else(|| bad("empty padded HEADERS"))?);
            body = &body[1..];
        }
        let mut priority = None;
        if flags & PRIORITY != 0 {
            let p: [u8; 5] = body.get(..5).and_then(|p| p.try_into().ok()).ok_or_else(|| bad("short HEADERS"))?;
            priority = Some(p);
            body = &body[5..];
        }
        let fragment = body.get(..body.len().checked_sub(pad).ok_or_else(|| bad("bad padding"))?).unwrap_or(&[]);
        let block = PendingBlock { stream, flags: flags & !PADDED, priority, fragment: fragment.to_vec() };
        if flags & END_HEADERS != 0 {
            self.emit(block, out)
        } else {
            self.pending = Some(block);
            Ok(())
        }
    }

    fn continuation(&mut self, flags: u8, payload: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        let mut block = self.pending.take().ok_or_else(|| bad("CONTINUATION without HEADERS"))?;
        block.fragment.extend_from_slice(payload);
        if flags & END_HEADERS != 0 {
            block.flags |= END_HEADERS;
            self.emit(block, out)
        } else {
            self.pending = Some(block);
            Ok(())
        }
    }

    /// Decodes a whole header block, fixes `:authority`, re-encodes, and writes it out as
    /// HEADERS (+ CONTINUATION) frames.
    fn emit(&mut self, block: PendingBlock, out: &mut Vec<u8>) -> io::Result<()> {
        let mut headers = self.decoder.decode(&block.fragment).map_err(|e| bad(format!("HPACK: {e:?}")))?;
        let mut fixed = false;
        for (name, value) in headers.iter_mut() {
            if name.as_slice() == b":authority"
                && let Some(at) = value.windows(3).position(|w| w == b"://")
            {
                *value = value[at + 3..].to_vec();
                fixed = true;
            }
        }
        if let (Mode::Http2, false) = (&self.mode, fixed) {
            // The first block needs no change: send it as it came, and stop looking.
            self.mode = Mode::Passthrough;
            write_block(out, &block, &block.fragment);
            return Ok(());
        }
        self.mode = Mode::Rewrite;
        let encoded = self.encoder.encode(headers.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
        write_block(out, &block, &encoded);
        Ok(())
    }
}

/// Writes a header block as HEADERS (+ CONTINUATION) frames that fit the frame size.
fn write_block(out: &mut Vec<u8>, block: &PendingBlock, encoded: &[u8]) {
    let prio = block.priority.map_or(0, |_| 5);
    let first_len = encoded.len().min(MAX_FRAME - prio);
    let (first, mut rest) = encoded.split_at(first_len);
    let mut flags = block.flags & !END_HEADERS;
    if rest.is_empty() {
        flags |= END_HEADERS;
    }
    frame_header(out, first.len() + prio, HEADERS, flags, block.stream);
    if let Some(p) = block.priority {
        out.extend_from_slice(&p);
    }
    out.extend_from_slice(first);
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rest.len().min(MAX_FRAME));
        frame_header(out, chunk.len(), CONTINUATION, if tail.is_empty() { END_HEADERS } else { 0 }, block.stream);
        out.extend_from_slice(chunk);
        rest = tail;
    }
}

fn frame_header(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: [u8; 4]) {
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    out.extend_from_slice(&stream);
}

/// A connection whose inbound bytes go through an [`InboundRewriter`].
pub struct AuthorityFix<S> {
    inner: S,
    rewriter: InboundRewriter,
    ready: Vec<u8>,
    offset: usize,
}

impl<S> AuthorityFix<S> {
    /// Wraps a connection.
    pub fn new(inner: S) -> Self {
        Self { inner, rewriter: InboundRewriter::default(), ready: Vec::new(), offset: 0 }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AuthorityFix<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.offset < this.ready.len() {
                let n = (this.ready.len() - this.offset).min(buf.remaining());
                buf.put_slice(&this.ready[this.offset..this.offset + n]);
                this.offset += n;
                if this.offset == this.ready.len() {
                    this.ready.clear();
                    this.offset = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.rewriter.passes_through() {
                // Straight into the caller's buffer: no zeroed chunk, no copies.
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut chunk = [0u8; 16 * 1024];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => this.rewriter.feed(rb.filled(), &mut this.ready)?,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for AuthorityFix<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A TCP listener whose connections get [`AuthorityFix`] and TCP_NODELAY.
pub struct FixingListener(pub TcpListener);

impl axum::serve::Listener for FixingListener {
    type Io = AuthorityFix<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((tcp, addr)) => {
                    // Small request/response pairs: Nagle would add latency to every one.
                    tcp.set_nodelay(true).ok();
                    return (AuthorityFix::new(tcp), addr);
                }
                // Out of descriptors and the like: back off instead of spinning.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_frame(encoder: &mut Encoder<'_>, authority: &[u8], flags: u8) -> Vec<u8> {
        let block = encoder.encode([
            (&b":method"[..], &b"POST"[..]),
            (&b":authority"[..], authority),
            (&b":path"[..], &b"/etcdserverpb.Maintenance/Status"[..]),
        ]);
        let mut f = Vec::new();
        frame_header(&mut f, block.len(), HEADERS, flags, [0, 0, 0, 1]);
        f.extend_from_slice(&block);
        f
    }

    fn frames(bytes: &[u8]) -> Vec<(u8, u8, Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let len = (usize::from(bytes[at]) << 16) | (usize::from(bytes[at + 1]) << 8) | usize::from(bytes[at + 2]);
            out.push((bytes[at + 3], bytes[at + 4], bytes[at + 9..at + 9 + len].to_vec()));
            at += 9 + len;
        }
        out
    }

    #[test]
    fn a_scheme_in_the_authority_is_removed_and_later_blocks_stay_decodable() {
        let mut client = Encoder::new();
        let mut input = PREFACE.to_vec();
        input.extend(headers_frame(&mut client, b"http://127.0.0.1:2379", END_HEADERS));
        input.extend(headers_frame(&mut client, b"http://127.0.0.1:2379", END_HEADERS | 0x1));
        let mut rw = InboundRewriter::default();
        let mut out = Vec::new();
        // Byte by byte: frames split across reads must reassemble.
        for b in &input {
            rw.feed(std::slice::from_ref(b), &mut out).expect("feed");
        }
        assert!(out.starts_with(PREFACE));
        let mut server = Decoder::new();
        let fs = frames(&out[PREFACE.len()..]);
        assert_eq!(fs.len(), 2);
        for (kind, flags, payload) in &fs {
            assert_eq!(*kind, HEADERS);
            assert!(flags & END_HEADERS != 0);
            let hs = server.decode(payload).expect("the server can decode what we re-encoded");
            let auth = hs.iter().find(|(n, _)| n.as_slice() == b":authority").map(|(_, v)| v.clone());
            assert_eq!(auth, Some(b"127.0.0.1:2379".to_vec()));
        }
        assert_eq!(fs[1].1 & 0x1, 0x1, "END_STREAM is kept");
    }

    #[test]
    fn a_connection_whose_first_authority_is_fine_passes_through_byte_for_byte() {
        let mut client = Encoder::new();
        let mut input = PREFACE.to_vec();
        input.extend(headers_frame(&mut client, b"127.0.0.1:2379", END_HEADERS));
        input.extend(headers_frame(&mut client, b"127.0.0.1:2379", END_HEADERS));
        let mut rw = InboundRewriter::default();
        let mut out = Vec::new();
        rw.feed(&input, &mut out).expect("feed");
        assert_eq!(out, input);
    }

    #[test]
    fn http1_and_other_frames_pass_through_untouched() {
        let mut rw = InboundRewriter::default();
        let mut out = Vec::new();
        rw.feed(b"GET /health HTTP/1.1\r\n\r\n", &mut out).expect("feed");
        assert_eq!(out, b"GET /health HTTP/1.1\r\n\r\n");

        let mut rw = InboundRewriter::default();
        let mut out = Vec::new();
        let mut input = PREFACE.to_vec();
        frame_header(&mut input, 3, 0x0, 0x1, [0, 0, 0, 1]);
        input.extend_from_slice(b"abc");
        rw.feed(&input, &mut out).expect("feed");
        assert_eq!(out, input);
    }

    /// What a reader gets through [`AuthorityFix`] when `writes` arrive one after another.
    async fn read_through_fix(writes: Vec<Vec<u8>>) -> Vec<u8> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut tx, rx) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            for w in writes {
                tx.write_all(&w).await.expect("write");
            }
        });
        let mut out = Vec::new();
        AuthorityFix::new(rx).read_to_end(&mut out).await.expect("read");
        writer.await.expect("writer");
        out
    }

    #[tokio::test]
    async fn reads_after_the_decision_arrive_unchanged_and_rewritten_blocks_stay_rewritten() {
        let mut client = Encoder::new();
        let mut fine = PREFACE.to_vec();
        fine.extend(headers_frame(&mut client, b"127.0.0.1:2379", END_HEADERS));
        let mut later = Vec::new();
        frame_header(&mut later, 300, 0x0, 0x1, [0, 0, 0, 1]);
        later.extend((0..300u32).map(|i| i as u8));
        let out = read_through_fix(vec![fine.clone(), later.clone(), b"tail".to_vec()]).await;
        assert_eq!(out, [fine, later, b"tail".to_vec()].concat());

        let mut client = Encoder::new();
        let mut input = PREFACE.to_vec();
        input.extend(headers_frame(&mut client, b"http://127.0.0.1:2379", END_HEADERS));
        let second = headers_frame(&mut client, b"http://127.0.0.1:2379", END_HEADERS);
        let out = read_through_fix(vec![input, second]).await;
        let mut server = Decoder::new();
        let fs = frames(&out[PREFACE.len()..]);
        assert_eq!(fs.len(), 2);
        for (_, _, payload) in &fs {
            let hs = server.decode(payload).expect("decodable");
            assert!(hs.iter().any(|(n, v)| n.as_slice() == b":authority" && v.as_slice() == b"127.0.0.1:2379"));
        }
    }

    #[test]
    fn continuation_frames_are_joined_and_padding_dropped() {
        let mut client = Encoder::new();
        let block = client.encode([(&b":authority"[..], &b"http://h:1"[..]), (&b"x"[..], &b"y"[..])]);
        let (a, b) = block.split_at(3);
        let mut input = PREFACE.to_vec();
        frame_header(&mut input, a.len() + 3, HEADERS, PADDED, [0, 0, 0, 3]);
        input.push(2);
        input.extend_from_slice(a);
        input.extend_from_slice(&[0, 0]);
        frame_header(&mut input, b.len(), CONTINUATION, END_HEADERS, [0, 0, 0, 3]);
        input.extend_from_slice(b);
        let mut rw = InboundRewriter::default();
        let mut out = Vec::new();
        rw.feed(&input, &mut out).expect("feed");
        let fs = frames(&out[PREFACE.len()..]);
        assert_eq!(fs.len(), 1);
        let hs = Decoder::new().decode(&fs[0].2).expect("decode");
        assert_eq!(hs[0], (b":authority".to_vec(), b"h:1".to_vec()));
        assert_eq!(hs[1], (b"x".to_vec(), b"y".to_vec()));
    }
}
