//! Streaming calls. Bidirectional ones (Watch, LeaseKeepAlive) take a sequence of JSON
//! request objects as the body; server-streaming ones (Election's Observe) one. The answer
//! is a sequence of `{"result":{...}}` lines.
//!
//! As grpc-gateway: the first request is decoded before the call starts (a bad one is
//! an HTTP 500 with code 2, as Go passes the decoder's error on unwrapped); later ones
//! are sent as they arrive, and the first bad or missing one ends the sending side.
//! Nothing is written until the first response, so a stream that fails before it
//! answers with the error's HTTP status.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::pin::Pin;

use axum::body::{Body, BodyDataStream, Bytes};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt, stream};
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::codec::{DecodeBuf, Decoder, Streaming};
use tonic::{Code, Request, Status};

use super::codec::{self, decode_value};
use super::error;
use super::syntax::{Scan, Scanner};
use super::unary::with_json_headers;

/// A stream of responses as the services return them.
pub type Responses<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Whether the call's sending side closes when the body ends. etcd's watch server keeps
/// a stream whose client stopped sending open, so the gateway's watch stays open until
/// the HTTP client goes; tonic's end of input ends the watch here, so it is held open.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OnBodyEnd {
    /// Pass the end on (LeaseKeepAlive then finishes).
    Close,
    /// Keep the sending side open until the HTTP client disconnects.
    HoldOpen,
}

/// Runs a bidirectional call over the HTTP body.
pub async fn call<Req, Resp, Fut>(
    body: Body,
    on_end: OnBodyEnd,
    call: impl FnOnce(Request<Streaming<Req>>) -> Fut,
) -> Response
where
    Req: DeserializeOwned + Default + Message + Send + 'static,
    Resp: Serialize + Send + 'static,
    Fut: Future<Output = Result<tonic::Response<Responses<Resp>>, Status>>,
{
    let mut reader = BodyReader::new(body);
    let first = match reader.next::<Req>().await {
        Ok(first) => first,
        Err(s) => return error::response(&Status::new(Code::Unknown, s.message())),
    };
    let rest = stream::unfold(reader, |mut r| async move { r.next::<Req>().await.ok().flatten().map(|m| (m, r)) });
    let requests = stream::iter(first).chain(rest);
    let frames: Pin<Box<dyn Stream<Item = Result<Bytes, Infallible>> + Send>> = match on_end {
        OnBodyEnd::Close => requests.map(frame).boxed(),
        OnBodyEnd::HoldOpen => requests.map(frame).chain(stream::pending()).boxed(),
    };
    let inbound = Streaming::new_request(ProtoDecoder::<Req>(PhantomData), Body::from_stream(frames), None, None);
    render(call(Request::new(inbound)).await).await
}

/// Runs a server-streaming call (Election's Observe): one JSON request in, a stream of
/// result lines out.
pub async fn call_server_streaming<Req, Resp, Fut>(body: Bytes, call: impl FnOnce(Request<Req>) -> Fut) -> Response
where
    Req: DeserializeOwned + Default,
    Resp: Serialize + Send + 'static,
    Fut: Future<Output = Result<tonic::Response<Responses<Resp>>, Status>>,
{
    match codec::decode::<Req>(&body) {
        Ok(req) => render(call(Request::new(req)).await).await,
        Err(s) => error::response(&s),
    }
}

/// A stream's answer: the error's HTTP status if it failed before its first response,
/// else a line per response, up to and including an error line.
async fn render<Resp: Serialize + Send + 'static>(call: Result<tonic::Response<Responses<Resp>>, Status>) -> Response {
    let mut responses = match call {
        Ok(r) => r.into_inner(),
        Err(s) => return failed_before_answer(&s),
    };
    let head = match responses.next().await {
        None => return with_json_headers(Body::empty().into_response()),
        Some(Err(s)) => return failed_before_answer(&s),
        Some(Ok(m)) => result_line(&m),
    };
    // Lines after the first, up to and including an error line.
    let tail = responses
        .scan(false, |failed, item| {
            let line = match (*failed, item) {
                (true, _) => return futures::future::ready(None),
                (false, Ok(m)) => result_line(&m),
                (false, Err(s)) => {
                    *failed = true;
                    error::stream_chunk(&s)
                }
            };
            futures::future::ready(Some(Ok::<_, Infallible>(line)))
        })
        .boxed();
    let lines = stream::once(futures::future::ready(Ok::<_, Infallible>(head))).chain(tail);
    with_json_headers(Body::from_stream(lines).into_response())
}

/// `{"result":...}` and the newline grpc-gateway puts after each message.
fn result_line<T: Serialize>(m: &T) -> String {
    format!("{{\"result\":{}}}\n", codec::encode(m))
}

/// A call that failed before its first response: the status's HTTP code, and the error
/// in the stream's form, without a newline.
fn failed_before_answer(s: &Status) -> Response {
    let mut r = (error::http_status(s.code()), error::stream_chunk(s)).into_response();
    r.headers_mut().insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    r
}

/// One message in gRPC's length-prefixed framing, for tonic's request decoder.
fn frame<T: Message>(m: T) -> Result<Bytes, Infallible> {
    let len = m.encoded_len();
    let mut buf = Vec::with_capacity(5 + len);
    buf.push(0);
    buf.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    m.encode_raw(&mut buf);
    Ok(Bytes::from(buf))
}

/// Decodes the frames [`frame`] makes.
struct ProtoDecoder<T>(PhantomData<T>);

impl<T: Message + Default> Decoder for ProtoDecoder<T> {
    type Item = T;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<T>, Status> {
        T::decode(buf).map(Some).map_err(|e| Status::internal(e.to_string()))
    }
}

/// The longest JSON request a stream takes, as axum's default body limit bounds the
/// unary calls: an unfinished value is held only up to this size, so an endless one
/// cannot grow memory without bound. (Its bytes are scanned once, as they arrive.)
const MAX_REQUEST_JSON: usize = 2 * 1024 * 1024;

/// Reads JSON values one by one from a body as it arrives.
struct BodyReader {
    data: BodyDataStream,
    buf: Vec<u8>,
    done: bool,
    /// The scan of the value at the start of `buf`, resumed as bytes arrive.
    scanner: Scanner,
}

impl BodyReader {
    fn new(body: Body) -> Self {
        Self { data: body.into_data_stream(), buf: Vec::new(), done: false, scanner: Scanner::default() }
    }

    /// The next request; `None` once the body ended with only whitespace left.
    async fn next<T: DeserializeOwned + Default>(&mut self) -> Result<Option<T>, Status> {
        loop {
            match self.scanner.scan(&self.buf, self.done) {
                Scan::Value(end) => {
                    let msg = decode_value(&self.buf[..end]);
                    self.buf.drain(..end);
                    self.scanner = Scanner::default();
                    return msg.map(Some);
                }
                Scan::Empty => return Ok(None),
                Scan::Truncated => return Err(Status::invalid_argument("unexpected EOF")),
                Scan::Error(m) => return Err(Status::invalid_argument(m)),
                Scan::NeedMore if self.buf.len() > MAX_REQUEST_JSON => {
                    return Err(Status::resource_exhausted(format!(
                        "a request in the body is longer than {MAX_REQUEST_JSON} bytes"
                    )));
                }
                Scan::NeedMore => match self.data.next().await {
                    Some(Ok(chunk)) => self.buf.extend_from_slice(&chunk),
                    Some(Err(_)) | None => self.done = true,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcd_proto::etcdserverpb::LeaseKeepAliveRequest;

    fn reader(chunks: Vec<Bytes>) -> BodyReader {
        BodyReader::new(Body::from_stream(stream::iter(chunks.into_iter().map(Ok::<_, Infallible>))))
    }

    #[tokio::test]
    async fn values_split_across_chunks_are_read_one_by_one() {
        let mut r = reader(vec![Bytes::from(r#"{"ID":"1"} {"I"#), Bytes::from(r#"D":"2"}"#)]);
        assert_eq!(r.next::<LeaseKeepAliveRequest>().await.ok().flatten().map(|m| m.id), Some(1));
        assert_eq!(r.next::<LeaseKeepAliveRequest>().await.ok().flatten().map(|m| m.id), Some(2));
        assert!(matches!(r.next::<LeaseKeepAliveRequest>().await, Ok(None)));
    }

    #[tokio::test]
    async fn an_endless_value_is_refused_once_past_the_limit() {
        // A string that never ends, 64 KiB at a time: held only up to the limit.
        let chunk = Bytes::from(vec![b'A'; 64 * 1024]);
        let mut chunks = vec![Bytes::from(r#"{"ID":""#)];
        chunks.extend(std::iter::repeat_n(chunk, MAX_REQUEST_JSON / (64 * 1024) + 2));
        let mut r = reader(chunks);
        let err = r.next::<LeaseKeepAliveRequest>().await.expect_err("too long");
        assert_eq!(err.code(), Code::ResourceExhausted);
        assert!(r.buf.len() <= MAX_REQUEST_JSON + 64 * 1024, "held {} bytes", r.buf.len());
    }
}
