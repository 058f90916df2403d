//! `pelagos runtime ARGS...`: hand over to the `pelagos-runtime` binary installed beside us.

use std::os::unix::process::CommandExt;
use std::process::ExitCode;

/// Replace this process with `pelagos-runtime ARGS...` from the same directory.
pub fn forward(args: Vec<std::ffi::OsString>) -> ExitCode {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("pelagos-runtime")));
    let Some(exe) = exe else {
        eprintln!("pelagos: cannot locate the pelagos-runtime binary next to this one");
        return ExitCode::from(125);
    };
    let err = std::process::Command::new(&exe).args(args).exec();
    eprintln!("pelagos: cannot run {}: {err}", exe.display());
    ExitCode::from(125)
}
