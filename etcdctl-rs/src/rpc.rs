//! Sending a unary RPC with etcdctl's deadline behaviour.
//!
//! clientv3 3.4 does not wait for a connection when it is created, and its balancer keeps
//! redialing while a request waits, so a request to an unreachable endpoint fails only when
//! the command's context expires (`context deadline exceeded`). Here a request that could
//! not be sent because the dial failed is retried until the deadline the same way.

use std::future::Future;
use std::time::Duration;

use etcd_rs_client::Error;
use tokio::time::{Instant, sleep_until, timeout_at};

/// Pause between attempts while no connection can be made.
const REDIAL_PAUSE: Duration = Duration::from_millis(100);

/// Runs `send` until it gets through, retrying only failed dials; gives up with
/// [`Error::DeadlineExceeded`] at `deadline` (`None`: never, like etcdctl's `txn`).
pub async fn unary<T, F, Fut>(deadline: Option<Instant>, mut send: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    loop {
        let result = match deadline {
            Some(d) => timeout_at(d, send()).await.map_err(|_| Error::DeadlineExceeded)?,
            None => send().await,
        };
        let err = match result {
            Ok(resp) => return Ok(resp.into_inner()),
            Err(status) => Error::from(status),
        };
        if !err.is_connect_failure() {
            return Err(err);
        }
        let wake = Instant::now() + REDIAL_PAUSE;
        match deadline {
            Some(d) if d <= wake => {
                sleep_until(d).await;
                return Err(Error::DeadlineExceeded);
            }
            _ => sleep_until(wake).await,
        }
    }
}
