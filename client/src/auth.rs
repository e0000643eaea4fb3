//! etcd authentication as clientv3 does it: one `Auth.Authenticate` call when the client is
//! created, then the token in the `token` metadata of every request.

use std::fmt;
use std::time::Duration;

use etcd_proto::etcdserverpb::AuthenticateRequest;
use etcd_proto::etcdserverpb::auth_client::AuthClient;
use tokio::time::{Instant, sleep_until, timeout_at};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::Channel;
use tonic::{Request, Status};

use crate::Error;

/// The server's answer when authentication is off; clientv3 then goes on without a token.
const AUTH_NOT_ENABLED: &str = "etcdserver: authentication is not enabled";

/// Pause between attempts while no connection can be made.
const REDIAL_PAUSE: Duration = Duration::from_millis(100);

/// A user name and password (etcdctl's `--user name:password`).
#[derive(Clone)]
pub struct Credentials {
    /// The etcd user.
    pub user: String,
    /// Its password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("user", &self.user).field("password", &"<hidden>").finish()
    }
}

/// Adds the auth token, if any, to each request as the `token` metadata etcd reads.
#[derive(Clone, Debug, Default)]
pub struct AuthInterceptor {
    token: Option<MetadataValue<Ascii>>,
}

impl Interceptor for AuthInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(token) = &self.token {
            request.metadata_mut().insert("token", token.clone());
        }
        Ok(request)
    }
}

/// Gets a token for `credentials` within `dial_timeout`, redialing while no connection can
/// be made, as clientv3's `getToken` does under its dial context. Authentication being
/// disabled on the server is not an error: the interceptor then sends no token.
pub(crate) async fn authenticate(
    channel: &Channel,
    credentials: &Credentials,
    dial_timeout: Duration,
) -> Result<AuthInterceptor, Error> {
    let deadline = Instant::now() + dial_timeout;
    let request = AuthenticateRequest { name: credentials.user.clone(), password: credentials.password.clone() };
    loop {
        let mut client = AuthClient::new(channel.clone());
        let result =
            timeout_at(deadline, client.authenticate(request.clone())).await.map_err(|_| Error::DeadlineExceeded)?;
        let err = match result {
            Ok(resp) => {
                let token = resp.into_inner().token;
                let token = MetadataValue::try_from(token.as_str())
                    .map_err(|_| Error::Status(Status::internal("server sent an invalid auth token")))?;
                return Ok(AuthInterceptor { token: Some(token) });
            }
            Err(status) => Error::from(status),
        };
        if err.etcd_message() == Some(AUTH_NOT_ENABLED) {
            return Ok(AuthInterceptor::default());
        }
        if !err.is_connect_failure() {
            return Err(err);
        }
        let wake = Instant::now() + REDIAL_PAUSE;
        if wake >= deadline {
            sleep_until(deadline).await;
            return Err(Error::DeadlineExceeded);
        }
        sleep_until(wake).await;
    }
}
