//! Unary calls: one JSON request in, one JSON response (or error) out.

use std::future::Future;

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::{Request, Status};

use super::{codec, error};

/// Decodes the body, runs `call` (a gRPC service method) and renders its answer.
pub async fn call<Req, Resp, Fut>(body: Bytes, call: impl FnOnce(Request<Req>) -> Fut) -> Response
where
    Req: DeserializeOwned + Default,
    Resp: Serialize,
    Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
{
    let req = match codec::decode::<Req>(&body) {
        Ok(r) => r,
        Err(s) => return error::response(&s),
    };
    match call(Request::new(req)).await {
        Ok(resp) => with_json_headers(codec::encode(resp.get_ref()).into_response()),
        Err(s) => error::response(&s),
    }
}

/// The headers of a successful gateway answer: JSON, and the gRPC response's
/// content type passed on as metadata, as grpc-gateway does.
pub fn with_json_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert("grpc-metadata-content-type", HeaderValue::from_static("application/grpc"));
    r
}
