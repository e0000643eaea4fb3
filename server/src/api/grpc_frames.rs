//! Counting the gRPC messages in a request or response body as it streams past, for
//! `grpc_server_msg_{received,sent}_total` and etcd's client byte counters, without
//! holding or copying any of it.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use http_body::Frame;
use prometheus::IntCounter;

/// Where a stream of gRPC messages stands: in a 5-byte message header (compression
/// flag, big-endian length), or in a message's payload.
#[derive(Debug, Default)]
pub struct FrameScan {
    header: [u8; 5],
    header_bytes: usize,
    payload_left: u64,
    /// The length of the message being read.
    payload_len: u64,
}

impl FrameScan {
    /// Reads the next chunk of the stream (cut anywhere) and returns the messages that
    /// end in it and their payload bytes, as the protobuf encoding's size (the 5-byte
    /// headers are framing, which etcd does not count). A message counts once whole:
    /// a header announcing more than ever comes counts nothing.
    pub fn feed(&mut self, mut data: &[u8]) -> (u64, u64) {
        let (mut messages, mut bytes) = (0, 0);
        while !data.is_empty() {
            if self.header_bytes < self.header.len() {
                let n = (self.header.len() - self.header_bytes).min(data.len());
                self.header[self.header_bytes..self.header_bytes + n].copy_from_slice(&data[..n]);
                self.header_bytes += n;
                data = &data[n..];
                if self.header_bytes < self.header.len() {
                    break;
                }
                let [_, a, b, c, d] = self.header;
                self.payload_len = u64::from(u32::from_be_bytes([a, b, c, d]));
                self.payload_left = self.payload_len;
            }
            let n = usize::try_from(self.payload_left).map_or(data.len(), |left| left.min(data.len()));
            self.payload_left -= n as u64;
            data = &data[n..];
            if self.payload_left == 0 {
                messages += 1;
                bytes += self.payload_len;
                self.header_bytes = 0;
            }
        }
        (messages, bytes)
    }
}

/// The counters one direction of one call adds to.
#[derive(Debug, Clone)]
pub struct Traffic {
    /// Messages (`grpc_server_msg_*_total` for the call's method).
    pub messages: IntCounter,
    /// Payload bytes (`etcd_network_client_grpc_*_bytes_total`).
    pub bytes: IntCounter,
}

/// A body whose gRPC messages are counted as they pass.
pub struct CountedBody {
    inner: Body,
    scan: FrameScan,
    tally: Traffic,
}

impl CountedBody {
    /// Wraps `inner`, counting into `tally`.
    pub fn wrap(inner: Body, tally: Traffic) -> Body {
        Body::new(Self { inner, scan: FrameScan::default(), tally })
    }
}

impl HttpBody for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let (messages, bytes) = this.scan.feed(data);
            this.tally.messages.inc_by(messages);
            this.tally.bytes.inc_by(bytes);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(payload: &[u8]) -> Vec<u8> {
        let mut m = vec![0];
        m.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        m.extend_from_slice(payload);
        m
    }

    #[test]
    fn messages_are_counted_however_the_stream_is_cut() {
        let mut stream = message(b"hello");
        stream.extend(message(b""));
        stream.extend(message(&[7; 300]));
        for cut in [1, 2, 3, 5, 6, 11, 64, stream.len()] {
            let mut scan = FrameScan::default();
            let (mut messages, mut bytes) = (0, 0);
            for chunk in stream.chunks(cut) {
                let (m, b) = scan.feed(chunk);
                messages += m;
                bytes += b;
            }
            assert_eq!((messages, bytes), (3, 305), "chunks of {cut}");
        }
    }

    #[test]
    fn a_message_counts_once_whole() {
        let mut scan = FrameScan::default();
        let whole = message(&[1; 100]);
        assert_eq!(scan.feed(&whole[..60]), (0, 0), "a header announcing more than came so far");
        assert_eq!(scan.feed(&whole[60..]), (1, 100));
    }
}
