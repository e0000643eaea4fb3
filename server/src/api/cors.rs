//! etcd's access control on the client port's HTTP answers (`--cors`): every answer says
//! which origins may read it, and a browser's preflight `OPTIONS` is answered before
//! routing. gRPC answers carry none: etcd serves gRPC apart from its HTTP handler.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use tower_layer::Layer;
use tower_service::Service;

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

/// etcd's `accessController` around the HTTP routes. A plain tower layer rather than an
/// axum `from_fn` middleware, which clones and boxes the route for every request.
#[derive(Debug, Clone)]
pub struct CorsLayer(Arc<Cors>);

impl CorsLayer {
    /// Allows what `cors` allows.
    pub fn new(cors: Cors) -> Self {
        Self(Arc::new(cors))
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = CorsService<S>;

    fn layer(&self, inner: S) -> CorsService<S> {
        CorsService { inner, cors: self.0.clone() }
    }
}

/// The service [`CorsLayer`] wraps around the HTTP routes.
#[derive(Debug, Clone)]
pub struct CorsService<S> {
    inner: S,
    cors: Arc<Cors>,
}

impl<S> Service<Request> for CorsService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let allow = self.cors.allowed(request.headers().get(header::ORIGIN));
        // A preflight is answered before routing, whatever the path.
        let inner = (request.method() != Method::OPTIONS).then(|| self.inner.call(request));
        Box::pin(async move {
            let mut response = match inner {
                Some(inner) => inner.await?,
                None => StatusCode::OK.into_response(),
            };
            if let Some(origin) = allow {
                let h = response.headers_mut();
                for (name, value) in [ALLOW_METHODS, ALLOW_HEADERS] {
                    h.insert(name, value);
                }
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            }
            Ok(response)
        })
    }
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
