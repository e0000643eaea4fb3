//! The YAML config file: etcd's keys at the top level; URL lists as comma-separated
//! strings; the TLS sections nested.

use serde_yaml_ng::Value;

use super::ConfigError;

/// Reads a config file into `(key, value)` pairs.
pub fn pairs(path: &str, text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let file_err = |reason: String| ConfigError::File { path: path.to_string(), reason };
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| file_err(e.to_string()))?;
    let map = match doc {
        Value::Mapping(m) => m,
        Value::Null => return Ok(Vec::new()),
        _ => {
            return Err(file_err("not a YAML mapping of etcd configuration keys".into()));
        }
    };
    map.into_iter()
        .map(|(k, v)| {
            let key = match k {
                Value::String(s) => s,
                other => return Err(file_err(format!("key {other:?} is not a string"))),
            };
            let value = scalar(v)?;
            Ok((key, value))
        })
        .collect()
}

fn scalar(v: Value) -> Result<String, ConfigError> {
    Ok(match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s,
        // `log-outputs: [stderr]` is a list in etcd's sample file.
        Value::Sequence(items) => items.into_iter().map(scalar).collect::<Result<Vec<_>, _>>()?.join(","),
        // Nested sections (the TLS ones) are refused by key, not by shape.
        Value::Mapping(_) => "section".to_string(),
        Value::Tagged(t) => scalar(t.value)?,
    })
}
