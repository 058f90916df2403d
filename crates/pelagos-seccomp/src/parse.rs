//! Reading a standalone seccomp profile (a `linux.seccomp` object as JSON, the format
//! docker's `--security-opt seccomp=FILE` takes) with errors that name the failing field.

use oci_spec::runtime::LinuxSeccomp;

use crate::compile::FIELD_ROOT;
use crate::error::{Result, SeccompError};

/// Parses a JSON seccomp profile. `origin` names the document in errors (a file path);
/// an unknown action, operator, architecture or flag is reported with its JSON path, e.g.
/// `profile.json: linux.seccomp.syscalls[3].action: unknown variant ...`.
pub fn parse_profile(json: &[u8], origin: &str) -> Result<LinuxSeccomp> {
    let mut de = serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            FIELD_ROOT.to_owned()
        } else {
            format!("{FIELD_ROOT}.{path}")
        };
        SeccompError::Parse {
            origin: origin.to_owned(),
            field,
            message: e.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_action_names_the_field() {
        let json = br#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["read"],"action":"SCMP_ACT_ALLOW"},
            {"names":["write"],"action":"SCMP_ACT_EXPLODE"}]}"#;
        let err = parse_profile(json, "p.json").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "p.json: linux.seccomp.syscalls[1].action: unknown variant `SCMP_ACT_EXPLODE`"
            ),
            "{err}"
        );
    }

    #[test]
    fn unknown_operator_and_arch_name_the_field() {
        let json = br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["read"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":0,"value":1,"op":"SCMP_CMP_ALMOST"}]}]}"#;
        let err = parse_profile(json, "p").unwrap_err().to_string();
        assert!(
            err.contains("linux.seccomp.syscalls[0].args[0].op"),
            "{err}"
        );
        let json = br#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_VAX"]}"#;
        let err = parse_profile(json, "p").unwrap_err().to_string();
        assert!(err.contains("linux.seccomp.architectures[0]"), "{err}");
    }

    #[test]
    fn valid_profile_parses() {
        let json = br#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
            "flags":["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_ALLOW"}]}"#;
        let p = parse_profile(json, "p").unwrap();
        assert_eq!(p.default_errno_ret(), Some(38));
    }
}
