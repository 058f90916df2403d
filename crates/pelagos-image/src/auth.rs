//! Registry credentials: values handed in by the caller, keyed by registry
//! (`host[:port]`, `docker.io` for Docker Hub); nothing here reads files or the
//! environment. The registry client answers challenges with them (Basic, or a token
//! from the realm the registry names).

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_not_in_debug() {
        let c = Credentials {
            username: "u".into(),
            password: "p:w".into(),
        };
        assert!(!format!("{c:?}").contains("p:w"), "password not in Debug");
    }
}
