//! Why a benchmark cannot run.

/// Benchmark setup and output failures.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Keys are too short to hold every key number.
    #[error("--key-size {key_size} is too small for --key-space-size {key_space_size} (needs {needed} bytes)")]
    KeySize {
        /// The requested key size.
        key_size: usize,
        /// Bytes needed for the largest key number.
        needed: usize,
        /// The requested key space.
        key_space_size: u64,
    },
    /// A connection could not be set up.
    #[error("cannot create client: {0}")]
    Client(#[from] etcd_rs_client::Error),
    /// A v2 HTTP connection could not be set up.
    #[error("cannot connect to {endpoint}: {reason}")]
    Http {
        /// The endpoint.
        endpoint: String,
        /// Why.
        reason: String,
    },
    /// A watch benchmark could not set up its watchers or read memory.
    #[error("watch: {0}")]
    Watch(String),
    /// A server's memory could not be read.
    #[error("memory: {0}")]
    Memory(String),
    /// A maintenance request failed.
    #[error("{what}: {status}")]
    Rpc {
        /// The request.
        what: &'static str,
        /// gRPC's answer.
        status: tonic::Status,
    },
    /// The Tokio runtime could not start.
    #[error("cannot start runtime: {0}")]
    Runtime(std::io::Error),
    /// The report file could not be written.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The `--output` path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A latency histogram could not be created or merged.
    #[error("latency histogram: {0}")]
    Histogram(String),
    /// A worker task panicked or was cancelled.
    #[error("benchmark worker failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
    /// The report could not be encoded (never expected for plain numbers and strings).
    #[error("cannot encode report: {0}")]
    Encode(#[from] serde_json::Error),
}
