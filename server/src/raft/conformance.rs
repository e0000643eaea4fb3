//! openraft's storage conformance suite, run against the real sled log store and state
//! machine.

use std::sync::Arc;

use openraft::testing::log::{StoreBuilder, Suite};
use openraft::{ErrorSubject, ErrorVerb, StorageError};

use super::log_store::LogStore;
use super::state_machine::SmStore;
use super::types::TypeConfig;
use crate::storage::SledBackend;

struct SledStores;

impl StoreBuilder<TypeConfig, LogStore<SledBackend>, SmStore<SledBackend>, tempfile::TempDir> for SledStores {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore<SledBackend>, SmStore<SledBackend>), StorageError<TypeConfig>> {
        let io =
            |e: String| StorageError::from_io_error(ErrorSubject::Store, ErrorVerb::Read, std::io::Error::other(e));
        let dir = tempfile::tempdir().map_err(|e| io(e.to_string()))?;
        let db = SledBackend::open(dir.path()).map(Arc::new).map_err(|e| io(e.to_string()))?;
        let sm = SmStore::open(db.clone()).map_err(|e| io(e.to_string()))?;
        let log = LogStore::new(db).map_err(|e| io(e.to_string()))?;
        Ok((dir, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite() -> Result<(), StorageError<TypeConfig>> {
    Suite::test_all(SledStores).await
}
