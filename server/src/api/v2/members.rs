//! `/v2/members` and `/v2/machines`: the member list the Go client syncs its endpoints
//! from, and membership changes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{V2Api, json_response, message, method_not_allowed};
use crate::api::cluster::{new_member_id, valid_peer_urls};
use crate::api::http::go_http_error;
use crate::error::Error;
use crate::node::{MemberInfo, Proposal};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    id: String,
    name: String,
    #[serde(rename = "peerURLs")]
    peer_urls: Vec<String>,
    #[serde(rename = "clientURLs")]
    client_urls: Vec<String>,
}

impl From<MemberInfo> for Member {
    fn from(m: MemberInfo) -> Self {
        Member { id: format!("{:x}", m.id), name: m.name, peer_urls: m.peer_urls, client_urls: m.client_urls }
    }
}

#[derive(Serialize)]
struct Members {
    members: Vec<Member>,
}

#[derive(Deserialize)]
struct PeerUrls {
    #[serde(rename = "peerURLs")]
    peer_urls: Vec<String>,
}

/// etcd's `unmarshalRequest`: JSON only, with its messages.
fn peer_urls(headers: &HeaderMap, body: &[u8]) -> Result<Vec<String>, (StatusCode, String)> {
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let ctype = ctype.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if ctype != "application/json" {
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("Bad Content-Type {ctype}, accept application/json")));
    }
    let req: PeerUrls = serde_json::from_slice(body).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    if !valid_peer_urls(&req.peer_urls) {
        return Err((StatusCode::BAD_REQUEST, Error::InvalidPeerUrls.to_string()));
    }
    Ok(req.peer_urls)
}

/// The v2 answer to a failed membership change, as etcd words it. etcd answers errors
/// its handler does not name (no leader, a timeout, an update of a removed member) with
/// a bare 500; the reason goes to the log.
fn change_error(e: Error, id: &str) -> Response {
    match e {
        Error::MemberNotFound => message(StatusCode::NOT_FOUND, format!("No such member: {id}")),
        Error::MemberIdExists => message(StatusCode::CONFLICT, "membership: ID exists"),
        Error::PeerUrlExists => message(StatusCode::CONFLICT, "membership: peerURL exists"),
        other => {
            tracing::warn!(error = %other, member = id, "v2 membership change failed");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// A member id in a path, hex as etcd's `types.IDFromString` reads it.
fn member_id(id: &str) -> Option<u64> {
    super::params::parse_uint(id, 16)
}

async fn submit(api: &V2Api, proposal: Proposal) -> Result<(), Error> {
    api.node.submit(proposal).await??;
    Ok(())
}

/// Everything under `/v2/members`, as etcd's `membersHandler`: `GET` lists (also with a
/// trailing slash) or names the leader (`/leader`), `POST` adds, `DELETE` and `PUT
/// /v2/members/<hex id>` remove and update; other methods are refused before anything
/// else, and without the cluster id header.
pub async fn members(
    State(api): State<Arc<V2Api>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !matches!(method, Method::GET | Method::POST | Method::DELETE | Method::PUT) {
        return method_not_allowed("GET,POST,DELETE,PUT");
    }
    let rest = uri.path().strip_prefix("/v2/members").unwrap_or_default();
    // Go's handlers see the path decoded, and so do its messages.
    let rest = percent_encoding::percent_decode_str(rest.strip_prefix('/').unwrap_or(rest)).decode_utf8_lossy();
    let rest: &str = &rest;
    let r = match method {
        Method::GET => match rest {
            "" => {
                let members = api.node.member_list().into_iter().map(Member::from).collect();
                json_response(StatusCode::OK, &Members { members }, true)
            }
            "leader" => {
                let leader = api.node.status().leader;
                match api.node.member_list().into_iter().find(|m| m.id == leader) {
                    Some(m) => json_response(StatusCode::OK, &Member::from(m), true),
                    None => message(StatusCode::SERVICE_UNAVAILABLE, "During election"),
                }
            }
            _ => message(StatusCode::NOT_FOUND, "Not found"),
        },
        Method::POST => add(&api, &headers, &body).await,
        // Go's plain `http.Error`: no Allow header here.
        _ if rest.is_empty() => go_http_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
        _ => match member_id(rest) {
            None => message(StatusCode::NOT_FOUND, format!("No such member: {rest}")),
            Some(id) if method == Method::DELETE => match submit(&api, Proposal::RemoveMember { id }).await {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(Error::MemberRemoved) => message(StatusCode::GONE, format!("Member permanently removed: {id:x}")),
                Err(e) => change_error(e, rest),
            },
            Some(id) => match peer_urls(&headers, &body) {
                Err((status, text)) => message(status, text),
                Ok(urls) => match submit(&api, Proposal::UpdateMember { id, peer_urls: urls }).await {
                    Ok(()) => StatusCode::NO_CONTENT.into_response(),
                    Err(e) => change_error(e, rest),
                },
            },
        },
    };
    api.stamp(r)
}

/// `POST /v2/members`: adds a voter with the given peer URLs.
async fn add(api: &V2Api, headers: &HeaderMap, body: &[u8]) -> Response {
    match peer_urls(headers, body) {
        Err((status, text)) => message(status, text),
        Ok(urls) => {
            let id = new_member_id(&urls);
            let proposal = Proposal::AddMember { id, peer_urls: urls.clone(), learner: false };
            match submit(api, proposal).await {
                Ok(()) => {
                    let m = Member { id: format!("{id:x}"), name: String::new(), peer_urls: urls, client_urls: vec![] };
                    json_response(StatusCode::CREATED, &m, true)
                }
                Err(e) => change_error(e, &format!("{id:x}")),
            }
        }
    }
}

/// `GET /v2/machines`: every client URL, comma and space separated, as plain text.
pub async fn machines(State(api): State<Arc<V2Api>>) -> Response {
    let mut urls: Vec<String> = api.node.member_list().into_iter().flat_map(|m| m.client_urls).collect();
    urls.sort();
    // Go sniffs the type of a body written without one.
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], urls.join(", ")).into_response()
}

#[cfg(test)]
mod tests {
    use super::member_id;

    #[test]
    fn member_ids_are_hex_without_a_sign() {
        assert_eq!(member_id("8e9e05c52164694d"), Some(0x8e9e_05c5_2164_694d));
        assert_eq!(member_id("+8e9e05c52164694d"), None);
        assert_eq!(member_id("xyz"), None);
    }
}
