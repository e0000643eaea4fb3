//! The v2 API over HTTP/1.1: one request per connection, as small as the v2 commands need.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A response: status, `X-Etcd-Index`, body.
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The `X-Etcd-Index` header, 0 when absent.
    pub index: u64,
    /// The body.
    pub body: Vec<u8>,
}

/// `host:port` of an endpoint URL (`http://host:port`).
fn host(endpoint: &str) -> &str {
    endpoint.trim_start_matches("http://").trim_end_matches('/')
}

/// Sends `method path` with an optional form body to `endpoint`.
pub async fn send(endpoint: &str, method: &str, path: &str, form: Option<String>) -> Result<Reply, String> {
    let host = host(endpoint);
    let tcp = TcpStream::connect(host).await.map_err(|e| format!("dial tcp {host}: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut request = hyper::Request::builder().method(method).uri(path).header(HOST, host);
    if form.is_some() {
        request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let request = request.body(Full::new(Bytes::from(form.unwrap_or_default()))).map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let index =
        response.headers().get("X-Etcd-Index").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes().to_vec();
    Ok(Reply { status, index, body })
}
