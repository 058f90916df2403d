//! Lexical path cleaning for paths that will be resolved inside a container root.

/// Clean an absolute path lexically: collapse `//`, `.` and `..` (never above `/`).
/// Returns `None` if `p` is not absolute.
pub fn clean_absolute(p: &str) -> Option<String> {
    if !p.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// Does a relative path climb out of its base (`a/../../x`)?
pub(crate) fn relative_escapes(p: &str) -> bool {
    let mut depth: i64 = 0;
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(clean_absolute("/a//b/./c/../d").as_deref(), Some("/a/b/d"));
        assert_eq!(clean_absolute("/../../etc").as_deref(), Some("/etc"));
        assert_eq!(clean_absolute("/").as_deref(), Some("/"));
        assert_eq!(clean_absolute("rel"), None);
    }

    #[test]
    fn escapes() {
        assert!(relative_escapes("../rootfs"));
        assert!(relative_escapes("a/../../b"));
        assert!(!relative_escapes("rootfs"));
        assert!(!relative_escapes("a/../rootfs"));
    }
}
