//! Re-implementations of the few Go standard-library behaviours whose exact output etcdctl
//! users see: string quoting (`%q`), integer and duration parsing errors, `time.Duration`
//! printing, `encoding/json` string escaping, go-humanize's byte sizes, `os` error texts,
//! and the time stamps and JSON lines of the loggers whose output etcdctl users see.

pub mod duration;
pub mod humanize;
pub mod json;
pub mod os;
pub mod quote;
pub mod strconv;
pub mod time;
pub mod zap;
