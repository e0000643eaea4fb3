//! `etcdserverpb.KV`.

use etcd_proto::etcdserverpb as pb;
use etcd_proto::etcdserverpb::kv_server::Kv;
use std::pin::Pin;

use prost::Message;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::status::status;
use super::{Context, convert, mismatch};
use crate::command::{Command, CommandResponse};
use crate::mvcc::{self, check};

/// The KV service.
pub struct KvService {
    ctx: Context,
}

/// Whether a txn only reads (etcd's `isTxnReadonly`: every op of both branches a range).
fn read_only(t: &pb::TxnRequest) -> bool {
    t.success.iter().chain(&t.failure).all(|op| matches!(op.request, Some(pb::request_op::Request::RequestRange(_))))
}

impl KvService {
    /// A service over `ctx`.
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(&self, request: Request<pb::RangeRequest>) -> Result<Response<pb::RangeResponse>, Status> {
        let req = convert::range_request(request.into_inner()).map_err(status)?;
        check::range(&req).map_err(status)?;
        if !req.serializable {
            self.ctx.node.refuse_if_learner().map_err(status)?;
            self.ctx.node.linearizable().await.map_err(status)?;
        }
        let resp = self.ctx.node.read().mvcc().range(&req).map_err(status)?;
        let header = self.ctx.header(resp.revision);
        Ok(Response::new(convert::range_response(resp, Some(header))))
    }

    type RangeStreamStream = Pin<Box<dyn Stream<Item = Result<pb::RangeStreamResponse, Status>> + Send>>;

    /// etcd 3.7's RangeStream: pages read at one pinned revision by a task that waits for
    /// the client to take each one (at most one page queued), so memory stays bounded by a
    /// page whatever the size of the range.
    async fn range_stream(
        &self,
        request: Request<pb::RangeRequest>,
    ) -> Result<Response<Self::RangeStreamStream>, Status> {
        let req = convert::range_request(request.into_inner()).map_err(status)?;
        check::range(&req).map_err(status)?;
        if !req.serializable {
            self.ctx.node.refuse_if_learner().map_err(status)?;
            self.ctx.node.linearizable().await.map_err(status)?;
        }
        let mut cursor = mvcc::RangeCursor::new(self.ctx.node.read().mvcc(), req).map_err(status)?;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let ctx = self.ctx.clone();
        tokio::spawn(async move {
            let mut sizer = mvcc::PageSizer::new(ctx.max_request_bytes);
            loop {
                let page = cursor.next_page(ctx.node.read().mvcc(), sizer.keys());
                let page = match page {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = tx.send(Err(status(e))).await;
                        return;
                    }
                };
                let summary = page.summary;
                let resp = pb::RangeResponse {
                    header: summary.map(|s| ctx.header(s.revision)),
                    kvs: page.kvs.into_iter().map(convert::key_value).collect(),
                    count: summary.map_or(0, |s| s.count),
                    more: summary.is_some_and(|s| s.more),
                };
                sizer.observe(resp.encoded_len());
                // A client that went away ends the read.
                if tx.send(Ok(pb::RangeStreamResponse { range_response: Some(resp) })).await.is_err()
                    || summary.is_some()
                {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    async fn put(&self, request: Request<pb::PutRequest>) -> Result<Response<pb::PutResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let req = request.into_inner();
        self.ctx.check_size(&req)?;
        let req = convert::put_request(req);
        check::put(&req).map_err(status)?;
        match self.ctx.propose(Command::Put(req)).await? {
            CommandResponse::Put(r) => {
                let header = self.ctx.header(r.revision);
                Ok(Response::new(convert::put_response(r, Some(header))))
            }
            _ => Err(mismatch()),
        }
    }

    async fn delete_range(
        &self,
        request: Request<pb::DeleteRangeRequest>,
    ) -> Result<Response<pb::DeleteRangeResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let req = request.into_inner();
        self.ctx.check_size(&req)?;
        let req = convert::delete_request(req);
        check::delete_range(&req).map_err(status)?;
        match self.ctx.propose(Command::DeleteRange(req)).await? {
            CommandResponse::DeleteRange(r) => {
                let header = self.ctx.header(r.revision);
                Ok(Response::new(convert::delete_response(r, Some(header))))
            }
            _ => Err(mismatch()),
        }
    }

    async fn txn(&self, request: Request<pb::TxnRequest>) -> Result<Response<pb::TxnResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let req = request.into_inner();
        // etcd serves a txn that only reads without proposing it, so without the request
        // size limit; etcd-rs proposes it all the same, so it keeps the gRPC message limit,
        // which the JSON gateway would not otherwise apply.
        if read_only(&req) {
            self.ctx.check_size_within(&req, self.ctx.max_request_bytes + super::GRPC_OVERHEAD_BYTES)?;
        } else {
            self.ctx.check_size(&req)?;
        }
        let req = convert::txn_request(req).map_err(status)?;
        check::txn(&req, self.ctx.max_txn_ops).map_err(status)?;
        match self.ctx.propose(Command::Txn(req)).await? {
            CommandResponse::Txn(r) => {
                let header = self.ctx.header(r.revision);
                Ok(Response::new(convert::txn_response(r, Some(header))))
            }
            _ => Err(mismatch()),
        }
    }

    async fn compact(
        &self,
        request: Request<pb::CompactionRequest>,
    ) -> Result<Response<pb::CompactionResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let req = request.into_inner();
        let cmd = Command::Compact(mvcc::CompactRequest { revision: req.revision, physical: req.physical });
        match self.ctx.propose(cmd).await? {
            CommandResponse::Compact(r) => {
                if req.physical {
                    self.ctx.node.physically_compacted(req.revision).await;
                }
                Ok(Response::new(pb::CompactionResponse { header: Some(self.ctx.header(r.revision)) }))
            }
            _ => Err(mismatch()),
        }
    }
}
