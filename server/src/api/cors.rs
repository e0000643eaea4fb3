//! etcd's access control on the client port's HTTP answers (`--cors`): every answer says
//! which origins may read it, and a browser's preflight `OPTIONS` is answered before
//! routing. gRPC answers carry none: etcd serves gRPC apart from its HTTP handler.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The origins `--cors` allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    any: bool,
    origins: Vec<String>,
}

impl Cors {
    /// From `--cors`'s list; an empty list or `*` allows any origin (etcd's default).
    pub fn new(origins: &[String]) -> Self {
        Self { any: origins.is_empty() || origins.iter().any(|o| o == "*"), origins: origins.to_vec() }
    }

    /// What `Access-Control-Allow-Origin` says to a request from `origin`, if anything.
    fn allowed(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        if self.any {
            return Some(HeaderValue::from_static("*"));
        }
        let origin = origin?;
        self.origins.iter().any(|o| o.as_bytes() == origin.as_bytes()).then(|| origin.clone())
    }
}

const ALLOW_METHODS: (HeaderName, HeaderValue) =
    (header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, GET, OPTIONS, PUT, DELETE"));
const ALLOW_HEADERS: (HeaderName, HeaderValue) =
    (header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("accept, content-type, authorization"));

/// The middleware: etcd's `accessController`.
pub async fn access_control(State(cors): State<Arc<Cors>>, req: Request, next: Next) -> Response {
    let allow = cors.allowed(req.headers().get(header::ORIGIN));
    let mut response =
        if req.method() == Method::OPTIONS { StatusCode::OK.into_response() } else { next.run(req).await };
    if let Some(origin) = allow {
        let h = response.headers_mut();
        for (name, value) in [ALLOW_METHODS, ALLOW_HEADERS] {
            h.insert(name, value);
        }
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_origin_by_default_else_only_those_listed() {
        let site = HeaderValue::from_static("http://ui.example");
        assert_eq!(Cors::new(&[]).allowed(None), Some(HeaderValue::from_static("*")));
        assert_eq!(Cors::new(&["*".into()]).allowed(Some(&site)), Some(HeaderValue::from_static("*")));
        let listed = Cors::new(&["http://ui.example".into()]);
        assert_eq!(listed.allowed(Some(&site)), Some(site));
        assert_eq!(listed.allowed(Some(&HeaderValue::from_static("http://other.example"))), None);
        assert_eq!(listed.allowed(None), None);
    }
}
