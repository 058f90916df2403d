//! Resolving an image's `User` (`name`, `uid`, `name:group`, `uid:gid`, ...) against
//! the image's own /etc/passwd and /etc/group, the way Docker does.

/// Errors from user resolution.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A user name is not in the image's passwd.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    /// A group name is not in the image's group file.
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
}

/// The ids a container process runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups (from /etc/group membership).
    pub additional_gids: Vec<u32>,
    /// Home directory from passwd, if the user is listed.
    pub home: Option<String>,
}

struct Passwd<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = Passwd<'_>> {
    passwd.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        Some(Passwd {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

fn group_entries(group: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    group.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 {
            return None;
        }
        let members = f[3].split(',').filter(|m| !m.is_empty()).collect();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

/// Resolve `spec` (the image config's `User`, possibly empty) with the image's
/// passwd and group file contents (empty strings when absent).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ResolvedUser, UserError> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let entry = match user.parse::<u32>() {
        Ok(uid) => passwd_entries(passwd).find(|p| p.uid == uid),
        Err(_) => Some(
            passwd_entries(passwd)
                .find(|p| p.name == user)
                .ok_or_else(|| UserError::NoUser(user.to_string()))?,
        ),
    };
    let uid = entry
        .as_ref()
        .map_or_else(|| user.parse().unwrap_or(0), |p| p.uid);
    let mut gid = entry.as_ref().map_or(0, |p| p.gid);
    if let Some(g) = grp.filter(|g| !g.is_empty()) {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries(group)
                .find(|e| e.0 == g)
                .map(|e| e.1)
                .ok_or_else(|| UserError::NoGroup(g.to_string()))?,
        };
    }
    let mut additional_gids = Vec::new();
    if grp.is_none() {
        if let Some(p) = &entry {
            additional_gids.push(gid);
            for (_, id, members) in group_entries(group) {
                if members.contains(&p.name) && !additional_gids.contains(&id) {
                    additional_gids.push(id);
                }
            }
        }
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home: entry.map(|p| p.home.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nextra:x:2000:app\n";

    fn ids(spec: &str) -> (u32, u32) {
        let r = resolve(spec, PASSWD, GROUP).unwrap();
        (r.uid, r.gid)
    }

    #[test]
    fn docker_table() {
        assert_eq!(ids(""), (0, 0));
        assert_eq!(ids("nobody"), (65534, 65534));
        assert_eq!(ids("1000"), (1000, 1000));
        assert_eq!(ids("4242"), (4242, 0));
        assert_eq!(ids("1000:1000"), (1000, 1000));
        assert_eq!(ids("nobody:nogroup"), (65534, 65534));
        assert_eq!(ids("0:0"), (0, 0));
        assert_eq!(ids("app:7"), (1000, 7));
    }

    #[test]
    fn supplementary_groups_and_home() {
        let r = resolve("app", PASSWD, GROUP).unwrap();
        assert_eq!(r.additional_gids, vec![1000, 2000]);
        assert_eq!(r.home.as_deref(), Some("/home/app"));
    }

    #[test]
    fn unknown_names_fail() {
        assert_eq!(
            resolve("ghost", PASSWD, GROUP).unwrap_err().to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert!(matches!(
            resolve("app:nogrp", PASSWD, GROUP),
            Err(UserError::NoGroup(_))
        ));
        assert!(
            resolve("1000", "", "").is_ok(),
            "numeric users need no passwd"
        );
    }
}
