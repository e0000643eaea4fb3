//! Errors as etcd's gateway (grpc-gateway v1) answers them: the HTTP status follows the
//! gRPC code, and the body repeats the message with the code's number.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tonic::{Code, Status};

use super::codec::quote;

/// grpc-gateway v1's `HTTPStatusFromCode`.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::REQUEST_TIMEOUT,
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::FailedPrecondition => StatusCode::PRECONDITION_FAILED,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `{"error":M,"message":M,"code":N}`.
pub fn body(status: &Status) -> String {
    let m = quote(status.message());
    format!(r#"{{"error":{m},"message":{m},"code":{}}}"#, status.code() as i32)
}

/// A failed unary call (or a stream that failed before its first message was decoded).
pub fn response(status: &Status) -> Response {
    let mut r = (http_status(status.code()), body(status)).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// The line a stream ends with when its call fails after it started:
/// `{"error":{"grpc_code":N,"http_code":H,"message":M,"http_status":T}}`.
pub fn stream_chunk(status: &Status) -> String {
    let http = http_status(status.code());
    format!(
        r#"{{"error":{{"grpc_code":{},"http_code":{},"message":{},"http_status":{}}}}}"#,
        status.code() as i32,
        http.as_u16(),
        quote(status.message()),
        quote(http.canonical_reason().unwrap_or_default()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shaped_as_etcds_gateway() {
        let s = Status::not_found("etcdserver: requested lease not found");
        assert_eq!(http_status(s.code()), StatusCode::NOT_FOUND);
        assert_eq!(
            body(&s),
            r#"{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}"#
        );
        assert_eq!(http_status(Code::FailedPrecondition), StatusCode::PRECONDITION_FAILED);
        assert_eq!(http_status(Code::OutOfRange), StatusCode::BAD_REQUEST);
    }
}
