//! Registry authentication: answering `WWW-Authenticate` challenges with Basic
//! credentials or a Bearer token from the realm the registry names, and caching what
//! was learnt per registry host (scheme) and per scope set (token).
//!
//! Credentials are values handed in by the caller, keyed by registry (`host[:port]`,
//! `docker.io` for Docker Hub); nothing here reads files or the environment.

use crate::registry_error::{chain, RegistryError, Subject};
use base64::Engine as _;
use std::collections::HashMap;
use std::sync::Mutex;

/// Username and password for Basic auth or for the token server.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// The `Authorization` value for Basic auth.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// What a request needs access to: `repository:<name>:<actions>` scopes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Scopes(Vec<String>);

impl Scopes {
    /// Pull access to `repo`.
    pub fn pull(repo: &str) -> Self {
        Self(vec![format!("repository:{repo}:pull")])
    }

    /// Push access to `repo`, plus pull access to `mount_from` for a cross-repository
    /// mount.
    pub fn push(repo: &str, mount_from: Option<&str>) -> Self {
        let mut v = vec![format!("repository:{repo}:pull,push")];
        if let Some(src) = mount_from {
            v.push(format!("repository:{src}:pull"));
        }
        Self(v)
    }

    /// No repository: a login check.
    pub fn none() -> Self {
        Self(Vec::new())
    }

    fn key(&self) -> String {
        self.0.join(" ")
    }
}

/// How a registry host wants to be authenticated, learnt from its challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Basic credentials on every request.
    Basic,
    /// A token from `realm` for `service`.
    Bearer {
        /// Token server URL.
        realm: String,
        /// Service name to ask the token for.
        service: Option<String>,
    },
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// What to answer with.
    pub scheme: Scheme,
    /// `error="insufficient_scope"` and the like.
    pub error: Option<String>,
}

/// Parse a `WWW-Authenticate` value; the first Bearer or Basic challenge wins.
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let list = http_auth::parse_challenges(value).ok()?;
    for c in list {
        let param = |name: &str| {
            c.params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_unescaped())
        };
        let error = param("error");
        if c.scheme.eq_ignore_ascii_case("bearer") {
            let realm = param("realm")?;
            return Some(Challenge {
                scheme: Scheme::Bearer {
                    realm,
                    service: param("service"),
                },
                error,
            });
        }
        if c.scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge {
                scheme: Scheme::Basic,
                error,
            });
        }
    }
    None
}

/// Authentication state shared by every request of one client.
#[derive(Default)]
pub(crate) struct Auth {
    credentials: HashMap<String, Credentials>,
    schemes: Mutex<HashMap<String, Scheme>>,
    tokens: Mutex<HashMap<(String, String), String>>,
}

impl Auth {
    pub fn new(credentials: HashMap<String, Credentials>) -> Self {
        Self {
            credentials,
            ..Default::default()
        }
    }

    /// The credentials for registry `host`, if any.
    pub fn credentials(&self, host: &str) -> Option<&Credentials> {
        self.credentials.get(host)
    }

    /// The `Authorization` header to send to `api_host` for `scopes`, if known.
    pub fn header(&self, host: &str, api_host: &str, scopes: &Scopes) -> Option<String> {
        let scheme = self.schemes.lock().ok()?.get(api_host).cloned()?;
        match scheme {
            Scheme::Basic => self.credentials(host).map(Credentials::basic_header),
            Scheme::Bearer { .. } => self
                .tokens
                .lock()
                .ok()?
                .get(&(api_host.to_string(), scopes.key()))
                .map(|t| format!("Bearer {t}")),
        }
    }

    /// Answer a challenge from `api_host` so that the request can be sent again:
    /// remember Basic, or fetch a fresh token for `scopes`. Errors when there is
    /// nothing to answer with.
    pub async fn answer(
        &self,
        client: &reqwest::Client,
        host: &str,
        api_host: &str,
        scopes: &Scopes,
        challenge: &Challenge,
        subject: &Subject,
    ) -> Result<(), RegistryError> {
        if let Ok(mut s) = self.schemes.lock() {
            s.insert(api_host.to_string(), challenge.scheme.clone());
        }
        match &challenge.scheme {
            Scheme::Basic => match self.credentials(host) {
                Some(_) => Ok(()),
                None => Err(RegistryError::Unauthorized {
                    image: subject.name.clone(),
                    detail: format!("{api_host} asks for a username and password"),
                    registry: host.to_string(),
                }),
            },
            Scheme::Bearer { realm, service } => {
                let token = self
                    .fetch_token(client, host, realm, service.as_deref(), scopes, subject)
                    .await?;
                if let Ok(mut t) = self.tokens.lock() {
                    t.insert((api_host.to_string(), scopes.key()), token);
                }
                Ok(())
            }
        }
    }

    async fn fetch_token(
        &self,
        client: &reqwest::Client,
        host: &str,
        realm: &str,
        service: Option<&str>,
        scopes: &Scopes,
        subject: &Subject,
    ) -> Result<String, RegistryError> {
        let other = |detail: String| RegistryError::Other {
            image: subject.name.clone(),
            what: format!(", token from {realm}"),
            detail,
            transient: false,
        };
        let mut url =
            reqwest::Url::parse(realm).map_err(|e| other(format!("invalid realm: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in &scopes.0 {
                q.append_pair("scope", s);
            }
        }
        let mut req = client.get(url);
        if let Some(c) = self.credentials(host) {
            req = req.header(reqwest::header::AUTHORIZATION, c.basic_header());
        }
        let resp = req.send().await.map_err(|e| other(chain(&e)))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| other(chain(&e)))?;
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(RegistryError::AuthFailed {
                image: subject.name.clone(),
                detail: format!(
                    "token server {realm} answered {status}: {}",
                    crate::registry_error::body_excerpt(&body)
                ),
            });
        }
        if !status.is_success() {
            return Err(other(format!(
                "token server answered {status}: {}",
                crate::registry_error::body_excerpt(&body)
            )));
        }
        #[derive(serde::Deserialize)]
        struct TokenReply {
            token: Option<String>,
            access_token: Option<String>,
        }
        let reply: TokenReply = serde_json::from_slice(&body)
            .map_err(|e| other(format!("token reply is not JSON: {e}")))?;
        reply
            .token
            .or(reply.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| other("token reply holds no token".into()))
    }

    /// The error for a request still refused after the challenge was answered.
    pub fn refused(
        &self,
        host: &str,
        challenge: Option<&Challenge>,
        scopes: &Scopes,
        subject: &Subject,
    ) -> RegistryError {
        let wanted = scopes.key();
        let scope_error = challenge
            .and_then(|c| c.error.as_deref())
            .is_some_and(|e| e == "insufficient_scope");
        match (self.credentials(host), scope_error) {
            (None, _) => RegistryError::Unauthorized {
                image: subject.name.clone(),
                detail: if wanted.is_empty() {
                    "anonymous access refused".into()
                } else {
                    format!("anonymous access refused for {wanted}")
                },
                registry: host.to_string(),
            },
            (Some(c), true) => RegistryError::Denied {
                image: subject.name.clone(),
                detail: format!("user {:?} was not granted {wanted}", c.username),
            },
            (Some(c), false) => RegistryError::AuthFailed {
                image: subject.name.clone(),
                detail: format!("{host} rejected the credentials of user {:?}", c.username),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let c = parse_challenge(
            r#"Bearer realm="http://127.0.0.1:5004/token",service="reg",scope="repository:x:pull",error="insufficient_scope""#,
        )
        .unwrap();
        assert_eq!(
            c.scheme,
            Scheme::Bearer {
                realm: "http://127.0.0.1:5004/token".into(),
                service: Some("reg".into())
            }
        );
        assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(
            parse_challenge(r#"Basic realm="pelagos-basic""#)
                .unwrap()
                .scheme,
            Scheme::Basic
        );
        assert_eq!(parse_challenge("Bearer service=x"), None, "no realm");
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge("\u{0}garbage\""), None);
    }

    #[test]
    fn scopes_and_basic_header() {
        assert_eq!(
            Scopes::push("a/b", Some("c")).key(),
            "repository:a/b:pull,push repository:c:pull"
        );
        let c = Credentials {
            username: "u".into(),
            password: "p:w".into(),
        };
        assert_eq!(c.basic_header(), "Basic dTpwOnc=");
        assert!(!format!("{c:?}").contains("p:w"), "password not in Debug");
    }
}
