//! A v2 API connection for the benchmark: HTTP/1.1 with keep-alive, one request at a
//! time, as the Go v2 client and libkv use it.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::error::BenchError;

/// One HTTP/1.1 connection.
pub struct HttpConn {
    send: SendRequest<Full<Bytes>>,
    host: String,
}

impl HttpConn {
    /// Connects to `endpoint` (`host:port` or `http://host:port`).
    pub async fn connect(endpoint: &str) -> Result<Self, BenchError> {
        let host = endpoint.trim_start_matches("http://").trim_end_matches('/').to_string();
        let failed = |e: String| BenchError::Http { endpoint: host.clone(), reason: e };
        let tcp = TcpStream::connect(&host).await.map_err(|e| failed(e.to_string()))?;
        tcp.set_nodelay(true).map_err(|e| failed(e.to_string()))?;
        let (send, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.map_err(|e| failed(e.to_string()))?;
        tokio::spawn(conn);
        Ok(Self { send, host })
    }

    /// Sends one request and reads the whole response; non-2xx statuses are errors.
    pub async fn send(&mut self, method: &str, path: &str, body: String) -> Result<(), String> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.host)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        self.send.ready().await.map_err(|e| e.to_string())?;
        let response = self.send.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        response.into_body().collect().await.map_err(|e| e.to_string())?;
        if status.is_success() { Ok(()) } else { Err(format!("HTTP {status}")) }
    }
}
