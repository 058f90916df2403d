//! The shape of `config.json` that pelagos decodes: every section a Linux runtime acts on,
//! each as its `oci-spec` type.
//!
//! `oci_spec::runtime::Spec` as a whole also decodes the windows, solaris, vm and zos
//! sections, and its `Process` checks `execCPUAffinity` with a regular-expression engine.
//! That code is most of the OCI runtime binary, and a short-lived runtime's peak RSS is
//! mostly its own text; so the top level and `process` are declared here with the same
//! field names, defaults and getters, and everything below them is `oci-spec`'s.

use oci_spec::runtime::{
    Box as ConsoleBox, Hooks, Linux, LinuxIOPriority, Mount, PosixRlimit, Root, Scheduler, User,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;

/// `config.json` (the sections for Linux).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecDoc {
    #[serde(default, rename = "ociVersion")]
    version: String,
    #[serde(default)]
    root: Option<Root>,
    #[serde(default)]
    mounts: Option<Vec<Mount>>,
    #[serde(default)]
    process: Option<ProcessDoc>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    domainname: Option<String>,
    #[serde(default)]
    hooks: Option<Hooks>,
    #[serde(default)]
    annotations: Option<HashMap<String, String>>,
    #[serde(default)]
    linux: Option<Linux>,
}

/// `process`, or the whole of an `exec --process` file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessDoc {
    #[serde(default)]
    terminal: Option<bool>,
    #[serde(default)]
    console_size: Option<ConsoleBox>,
    user: User,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<String>>,
    cwd: PathBuf,
    #[serde(default)]
    rlimits: Option<Vec<PosixRlimit>>,
    #[serde(default)]
    no_new_privileges: Option<bool>,
    #[serde(default)]
    apparmor_profile: Option<String>,
    #[serde(default)]
    oom_score_adj: Option<i32>,
    #[serde(default)]
    selinux_label: Option<String>,
    /// Checked for shape, not applied.
    #[serde(default)]
    io_priority: Option<LinuxIOPriority>,
    /// Checked for shape, not applied.
    #[serde(default)]
    scheduler: Option<Scheduler>,
    /// Not applied; taken as any JSON so that its presence can be reported.
    #[serde(default, rename = "execCPUAffinity")]
    exec_cpu_affinity: Option<serde::de::IgnoredAny>,
}

impl SpecDoc {
    pub fn version(&self) -> &String {
        &self.version
    }
    pub fn root(&self) -> &Option<Root> {
        &self.root
    }
    pub fn mounts(&self) -> &Option<Vec<Mount>> {
        &self.mounts
    }
    pub fn process(&self) -> &Option<ProcessDoc> {
        &self.process
    }
    pub fn hostname(&self) -> &Option<String> {
        &self.hostname
    }
    pub fn domainname(&self) -> &Option<String> {
        &self.domainname
    }
    pub fn hooks(&self) -> &Option<Hooks> {
        &self.hooks
    }
    pub fn annotations(&self) -> &Option<HashMap<String, String>> {
        &self.annotations
    }
    pub fn linux(&self) -> &Option<Linux> {
        &self.linux
    }
}

impl ProcessDoc {
    pub fn terminal(&self) -> Option<bool> {
        self.terminal
    }
    pub fn console_size(&self) -> &Option<ConsoleBox> {
        &self.console_size
    }
    pub fn user(&self) -> &User {
        &self.user
    }
    pub fn args(&self) -> &Option<Vec<String>> {
        &self.args
    }
    pub fn env(&self) -> &Option<Vec<String>> {
        &self.env
    }
    pub fn cwd(&self) -> &PathBuf {
        &self.cwd
    }
    pub fn rlimits(&self) -> &Option<Vec<PosixRlimit>> {
        &self.rlimits
    }
    pub fn no_new_privileges(&self) -> Option<bool> {
        self.no_new_privileges
    }
    pub fn apparmor_profile(&self) -> &Option<String> {
        &self.apparmor_profile
    }
    pub fn oom_score_adj(&self) -> Option<i32> {
        self.oom_score_adj
    }
    pub fn selinux_label(&self) -> &Option<String> {
        &self.selinux_label
    }
    /// Fields that are accepted but not applied, by JSON name.
    pub fn unapplied(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.io_priority.is_some() {
            v.push("ioPriority");
        }
        if self.scheduler.is_some() {
            v.push("scheduler");
        }
        if self.exec_cpu_affinity.is_some() {
            v.push("execCPUAffinity");
        }
        v
    }
}
