//! URL lists as etcd writes them: comma-separated `scheme://host:port`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::{ConfigError, invalid};

/// A URL to listen on, with the socket address it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenUrl {
    /// The URL as given.
    pub url: String,
    /// Where to bind.
    pub addr: SocketAddr,
}

/// Splits a URL into scheme, host and port, checking what etcd checks.
fn split<'a>(key: &str, url: &'a str) -> Result<(&'a str, &'a str, u16), ConfigError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid(key, format!("URL \"{url}\" has no scheme (want http://host:port)")))?;
    match scheme {
        "http" | "unix" => {}
        "https" | "unixs" => {
            return Err(invalid(key, format!("URL \"{url}\": TLS is not supported by etcd-rs yet")));
        }
        other => {
            return Err(invalid(key, format!("URL scheme \"{other}\" must be http or https")));
        }
    }
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') {
        return Err(invalid(key, format!("URL \"{url}\" must not contain a path")));
    }
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| invalid(key, format!("URL \"{url}\" has no port")))?;
    let port = port.parse().map_err(|_| invalid(key, format!("URL \"{url}\" has a bad port")))?;
    Ok((scheme, host, port))
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Parses listen URLs; hosts must be IP addresses (or `localhost`).
pub(super) fn listen(key: &str, value: &str) -> Result<Vec<ListenUrl>, ConfigError> {
    let urls: Vec<ListenUrl> = list(value)
        .map(|url| {
            let (_, host, port) = split(key, url)?;
            let ip: IpAddr = match host.trim_start_matches('[').trim_end_matches(']') {
                "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
                h => h
                    .parse()
                    .map_err(|_| invalid(key, format!("URL \"{url}\": listen address must be an IP address")))?,
            };
            Ok(ListenUrl { url: url.to_string(), addr: SocketAddr::new(ip, port) })
        })
        .collect::<Result<_, _>>()?;
    if urls.is_empty() {
        return Err(invalid(key, "no URL given"));
    }
    Ok(urls)
}

/// Parses advertised URLs (any host name).
pub(super) fn advertised(key: &str, value: &str) -> Result<Vec<String>, ConfigError> {
    let urls: Vec<String> =
        list(value).map(|url| split(key, url).map(|_| url.to_string())).collect::<Result<_, _>>()?;
    if urls.is_empty() {
        return Err(invalid(key, "no URL given"));
    }
    Ok(urls)
}

/// Parses `name=url,name=url`; a name may repeat to list several URLs.
pub(super) fn initial_cluster(value: &str) -> Result<Vec<(String, Vec<String>)>, ConfigError> {
    const KEY: &str = "initial-cluster";
    let mut members: Vec<(String, Vec<String>)> = Vec::new();
    for entry in list(value) {
        let (name, url) = entry.split_once('=').ok_or_else(|| invalid(KEY, format!("\"{entry}\" is not name=url")))?;
        split(KEY, url)?;
        match members.iter_mut().find(|(n, _)| n == name) {
            Some((_, urls)) => urls.push(url.to_string()),
            None => members.push((name.to_string(), vec![url.to_string()])),
        }
    }
    if members.is_empty() {
        return Err(invalid(KEY, "no member given"));
    }
    Ok(members)
}
