//! Validation tests: good configs convert, hostile ones fail naming their field.

use super::*;
use serde_json::json;

fn base() -> Value {
    let mut v = crate::defaults::default_spec();
    v["process"]["terminal"] = json!(false);
    v
}

fn convert(v: Value) -> Result<ContainerConfig, SpecError> {
    let bytes = serde_json::to_vec(&v).unwrap();
    let direct = from_oci_bytes(&bytes, Path::new("/bundle"), 40);
    let via_value = from_oci_value(v, Path::new("/bundle"), 40);
    assert_eq!(direct.is_ok(), via_value.is_ok(), "both parse paths agree");
    if let (Err(a), Err(b)) = (&direct, &via_value) {
        assert_eq!(a.field(), b.field());
    }
    direct
}

fn field_of(v: Value) -> String {
    convert(v).unwrap_err().field().unwrap_or("").to_string()
}

#[test]
fn default_converts() {
    let c = convert(base()).unwrap();
    assert_eq!(c.rootfs, PathBuf::from("/bundle/rootfs"));
    assert!(c.root_readonly);
    assert_eq!(c.process.args, vec!["sh"]);
    assert_eq!(c.process.caps.bounding, (1 << 29) | (1 << 5) | (1 << 10));
    assert_eq!(c.process.rlimits[0].resource, libc::RLIMIT_NOFILE as i32);
    assert_eq!(c.mounts.len(), 7);
    assert_eq!(c.mounts[6].kind, MountKind::Cgroup);
    assert_eq!(c.namespaces.len(), 6);
    assert!(c.process.no_new_privileges);
}

#[test]
fn root_path_escaping_is_rejected() {
    let mut v = base();
    v["root"]["path"] = json!("../../etc");
    assert_eq!(field_of(v), "root.path");
}

#[test]
fn relative_mount_destination_is_rejected() {
    let mut v = base();
    v["mounts"][1]["destination"] = json!("dev");
    assert_eq!(field_of(v), "mounts[1].destination");
}

#[test]
fn empty_args_are_rejected() {
    let mut v = base();
    v["process"]["args"] = json!([]);
    assert_eq!(field_of(v), "process.args");
}

#[test]
fn unknown_rlimit_is_rejected() {
    let mut v = base();
    v["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]);
    let f = field_of(v);
    assert!(f.starts_with("process.rlimits[0]"), "{f}");
}

#[test]
fn non_absolute_hook_is_rejected() {
    let mut v = base();
    v["hooks"] = json!({"prestart": [{"path": "bin/true"}]});
    assert_eq!(field_of(v), "hooks.prestart[0].path");
}

#[test]
fn unknown_capability_is_a_warning() {
    let mut v = base();
    v["process"]["capabilities"]["bounding"] = json!(["CAP_KILL", "CAP_MADE_UP"]);
    let c = convert(v).unwrap();
    assert_eq!(c.process.caps.bounding, 1 << 5);
    assert!(c.warnings[0].contains("CAP_MADE_UP"));
}

#[test]
fn bad_env_and_cwd() {
    let mut v = base();
    v["process"]["env"] = json!(["OK=1", "NOEQUALS"]);
    assert_eq!(field_of(v), "process.env[1]");
    let mut v = base();
    v["process"]["cwd"] = json!("relative");
    assert_eq!(field_of(v), "process.cwd");
}

#[test]
fn sysctl_must_be_namespaced() {
    let mut v = base();
    v["linux"]["sysctl"] = json!({"kernel.panic": "1"});
    assert_eq!(field_of(v), "linux.sysctl.kernel.panic");
    let mut v = base();
    v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    assert!(convert(v).is_ok());
}

#[test]
fn userns_needs_mappings() {
    let mut v = base();
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    assert_eq!(field_of(v), "linux.uidMappings");
}

#[test]
fn duplicate_namespace_and_wrong_types() {
    let mut v = base();
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "pid"}));
    assert_eq!(field_of(v), "linux.namespaces[6]");
    let mut v = base();
    v["process"]["user"]["uid"] = json!("root");
    assert_eq!(field_of(v), "process.user.uid");
}
