//! Re-implementations of the few Go standard-library behaviours whose exact output etcdctl
//! users see: string quoting (`%q`), integer and duration parsing errors, `time.Duration`
//! printing, `encoding/json` string escaping and go-humanize's byte sizes.

pub mod duration;
pub mod humanize;
pub mod json;
pub mod quote;
pub mod strconv;
