//! `member list|add|remove|update|promote` and `move-leader`, with etcdctl 3.4's checks,
//! messages and exit codes.

use etcd_proto::etcdserverpb::{
    MemberAddRequest, MemberListRequest, MemberPromoteRequest, MemberRemoveRequest, MemberUpdateRequest,
    MoveLeaderRequest, RangeRequest, StatusRequest,
};

use crate::cli::GlobalArgs;
use crate::error::{CtlError, EXIT_ERROR};
use crate::go::quote::quote;
use crate::go::strconv::parse_uint_hex;
use crate::printer::Format;
use crate::rpc;

/// Lists the cluster's members.
pub async fn list(g: &GlobalArgs) -> Result<(), CtlError> {
    let (client, printer) = super::client_and_printer(g).await?;
    let resp = rpc::unary(Some(super::command_deadline(g)), || {
        let mut cluster = client.cluster();
        async move { cluster.member_list(MemberListRequest {}).await }
    })
    .await?;
    super::write_stdout(&printer.member_list(&resp)?);
    Ok(())
}

/// A member id argument: exactly one, in hex.
fn member_id(args: &[String]) -> Result<u64, CtlError> {
    let [arg] = args else { return Err(CtlError::bad_args("member ID is not provided")) };
    parse_uint_hex(arg).map_err(|e| CtlError::bad_args(format!("bad member ID arg ({e}), expecting ID in Hex")))
}

/// clientv3 checks peer URLs before sending them (`types.NewURLs`).
fn peer_urls(list: &str) -> Result<Vec<String>, CtlError> {
    let urls: Vec<String> = list.split(',').map(str::to_string).collect();
    for u in &urls {
        let t = u.trim();
        let (scheme, rest) = match t.split_once("://") {
            Some((s, r)) => (s, r),
            None if t.split(['/', '?']).next().is_some_and(|first| first.contains(':')) => {
                let message = format!("parse {}: first path segment in URL cannot contain colon", quote(t.as_bytes()));
                return Err(CtlError::new(EXIT_ERROR, message));
            }
            None => ("", t),
        };
        if !matches!(scheme, "http" | "https" | "unix" | "unixs") {
            return Err(CtlError::new(EXIT_ERROR, format!("URL scheme must be http, https, unix, or unixs: {t}")));
        }
        let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
        if host.rsplit_once(':').is_none_or(|(_, port)| port.is_empty() && !host.ends_with(':')) {
            return Err(CtlError::new(EXIT_ERROR, format!("URL address does not have the form \"host:port\": {t}")));
        }
        if !path.is_empty() {
            return Err(CtlError::new(EXIT_ERROR, format!("URL must not contain a path: {t}")));
        }
    }
    Ok(urls)
}

/// Adds a member and, in the simple format, prints the settings it must start with.
pub async fn add(g: &GlobalArgs, args: &[String], urls: &str, learner: bool) -> Result<(), CtlError> {
    let name = match args {
        [] => return Err(CtlError::bad_args("member name not provided")),
        [name] => name.clone(),
        _ => {
            let mut message = "too many arguments".to_string();
            for a in args.iter().filter(|a| a.to_ascii_lowercase().starts_with("http")) {
                message.push_str(&format!(", did you mean --peer-urls={a}"));
            }
            return Err(CtlError::bad_args(message));
        }
    };
    if urls.is_empty() {
        return Err(CtlError::bad_args("member peer urls not provided"));
    }
    let (client, printer) = super::client_and_printer(g).await?;
    let peer_ur_ls = peer_urls(urls)?;
    let req = MemberAddRequest { peer_ur_ls, is_learner: learner };
    let resp = rpc::unary(Some(super::command_deadline(g)), || {
        let mut cluster = client.cluster();
        let req = req.clone();
        async move { cluster.member_add(req).await }
    })
    .await
    .map_err(|e| CtlError::new(EXIT_ERROR, e))?;
    super::write_stdout(&printer.member_add(&resp)?);
    if printer.format() != Format::Simple {
        return Ok(());
    }
    let new_id = resp.member.as_ref().map_or(0, |m| m.id);
    // The member that answered the add has the newest list; make sure this one does too.
    let mut list = resp.members.clone();
    let answered_by = resp.header.map_or(0, |h| h.member_id);
    let fresh = rpc::unary(Some(super::command_deadline(g)), || {
        let mut cluster = client.cluster();
        async move { cluster.member_list(MemberListRequest {}).await }
    })
    .await
    .map_err(|e| CtlError::new(EXIT_ERROR, e))?;
    if fresh.header.map_or(0, |h| h.member_id) == answered_by {
        list = fresh.members;
    } else {
        // A quorum read brings the other member up to date, as etcdctl's `Get "_"`.
        let mut kv = client.kv();
        kv.range(RangeRequest { key: b"_".to_vec(), ..Default::default() }).await.ok();
    }
    let mut conf = Vec::new();
    for m in &list {
        for u in &m.peer_ur_ls {
            let n = if m.id == new_id { name.as_str() } else { m.name.as_str() };
            conf.push(format!("{n}={u}"));
        }
    }
    let text = format!(
        "\nETCD_NAME={}\nETCD_INITIAL_CLUSTER={}\nETCD_INITIAL_ADVERTISE_PEER_URLS={}\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n",
        quote(name.as_bytes()),
        quote(conf.join(",").as_bytes()),
        quote(urls.as_bytes())
    );
    super::write_stdout(text.as_bytes());
    Ok(())
}

/// Removes a member.
pub async fn remove(g: &GlobalArgs, args: &[String]) -> Result<(), CtlError> {
    let id = member_id(args)?;
    let (client, printer) = super::client_and_printer(g).await?;
    let resp = rpc::unary(Some(super::command_deadline(g)), || {
        let mut cluster = client.cluster();
        async move { cluster.member_remove(MemberRemoveRequest { id }).await }
    })
    .await
    .map_err(|e| CtlError::new(EXIT_ERROR, e))?;
    super::write_stdout(&printer.member_change(id, "removed from", &resp.header, &resp)?);
    Ok(())
}

/// Changes a member's peer URLs.
pub async fn update(g: &GlobalArgs, args: &[String], urls: &str) -> Result<(), CtlError> {
    let id = member_id(args)?;
    if urls.is_empty() {
        return Err(CtlError::bad_args("member peer urls not provided"));
    }
    let (client, printer) = super::client_and_printer(g).await?;
    let peer_ur_ls = peer_urls(urls)?;
    let resp = rpc::unary(Some(super::command_deadline(g)), || {
        let mut cluster = client.cluster();
        let req = MemberUpdateRequest { id, peer_ur_ls: peer_ur_ls.clone() };
        async move { cluster.member_update(req).await }
    })
    .await
    .map_err(|e| CtlError::new(EXIT_ERROR, e))?;
    super::write_stdout(&printer.member_change(id, "updated in", &resp.header, &resp)?);
    Ok(())
}

/// Makes a learner a voter.
pub async fn promote(g: &GlobalArgs, args: &[String]) -> Result<(), CtlError> {
    let id = member_id(args)?;
    let (client, printer) = super::client_and_printer(g).await?;
    let resp = rpc::unary(Some(super::command_deadline(g)), || {
        let mut cluster = client.cluster();
        async move { cluster.member_promote(MemberPromoteRequest { id }).await }
    })
    .await
    .map_err(|e| CtlError::new(EXIT_ERROR, e))?;
    super::write_stdout(&printer.member_change(id, "promoted in", &resp.header, &resp)?);
    Ok(())
}

/// `move-leader <id>`: finds the leader among the endpoints and asks it to hand over.
pub async fn move_leader(g: &GlobalArgs, args: &[String]) -> Result<(), CtlError> {
    let [arg] = args else { return Err(CtlError::bad_args("move-leader command needs 1 argument")) };
    let target = parse_uint_hex(arg).map_err(CtlError::bad_args)?;
    let printer = super::printer(g)?;
    g.env.report()?;
    let deadline = super::command_deadline(g);
    let mut leader = None;
    for ep in &g.endpoints {
        let client = super::client_for(g, vec![ep.clone()]).await?;
        let status = rpc::unary(Some(deadline), || {
            let mut m = client.maintenance();
            async move { m.status(StatusRequest {}).await }
        })
        .await
        .map_err(|e| CtlError::new(EXIT_ERROR, e))?;
        if status.header.map_or(0, |h| h.member_id) == status.leader {
            leader = Some((client, status.leader));
            break;
        }
    }
    let Some((client, leader_id)) = leader else {
        return Err(CtlError::bad_args(format!("no leader endpoint given at [{}]", g.endpoints.join(" "))));
    };
    let resp = rpc::unary(Some(deadline), || {
        let mut m = client.maintenance();
        async move { m.move_leader(MoveLeaderRequest { target_id: target }).await }
    })
    .await
    .map_err(|e| CtlError::new(EXIT_ERROR, e))?;
    super::write_stdout(&printer.move_leader(leader_id, target, &resp)?);
    Ok(())
}
