//! The runc command line, parsed from a table of commands and options.
//!
//! A short-lived OCI runtime's peak RSS is mostly its own code, so this is a small table
//! walker over `lexopt` instead of a derive-based parser. Callers differ in small ways that
//! must all work: global options before or after the command, command options before or
//! after the id, `--opt value` and `--opt=value`, and Go-style single-dash long options
//! (`-bundle`), which runc's flag parser accepts.

use super::table::{Cmd, Opt, COMMANDS, GLOBAL};
use std::ffi::OsString;
use std::fmt::Write as _;

/// What the command line asked for.
pub enum Parsed {
    Run(Matches),
    /// Print this (help or version) and exit 0.
    Print(String),
}

/// A usage error: the message, exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

/// Parsed options (global and the command's) and positionals.
#[derive(Debug, Default)]
pub struct Matches {
    pub command: &'static str,
    opts: Vec<(&'static str, Option<String>)>,
    pub args: Vec<String>,
}

impl Matches {
    pub fn flag(&self, long: &str) -> bool {
        self.opts.iter().any(|(l, _)| *l == long)
    }

    /// The last value given, else the option's default.
    pub fn value(&self, long: &str) -> Option<String> {
        self.opts
            .iter()
            .rev()
            .find(|(l, _)| *l == long)
            .and_then(|(_, v)| v.clone())
            .or_else(|| find(self.command, long).and_then(|o| o.default.map(String::from)))
    }

    /// Every value given, in order.
    pub fn values(&self, long: &str) -> Vec<String> {
        self.opts
            .iter()
            .filter(|(l, _)| *l == long)
            .filter_map(|(_, v)| v.clone())
            .collect()
    }

    /// The value parsed as `T`, naming the option on error.
    pub fn parse<T: std::str::FromStr>(&self, long: &str) -> Result<Option<T>, UsageError>
    where
        T::Err: std::fmt::Display,
    {
        self.value(long)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| UsageError(format!("invalid value {v:?} for --{long}: {e}")))
            })
            .transpose()
    }

    /// Every value parsed as `T`.
    pub fn parse_all<T: std::str::FromStr>(&self, long: &str) -> Result<Vec<T>, UsageError>
    where
        T::Err: std::fmt::Display,
    {
        self.values(long)
            .into_iter()
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| UsageError(format!("invalid value {v:?} for --{long}: {e}")))
            })
            .collect()
    }
}

fn command(name: &str) -> Option<&'static Cmd> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// The option `long` of `command` or a global one.
fn find(command: &str, long: &str) -> Option<&'static Opt> {
    self::command(command)
        .map(|c| c.opts)
        .unwrap_or(&[])
        .iter()
        .chain(GLOBAL)
        .find(|o| o.long == long)
}

fn find_short(cmd: Option<&'static Cmd>, short: char) -> Option<&'static Opt> {
    cmd.map(|c| c.opts)
        .unwrap_or(&[])
        .iter()
        .chain(GLOBAL)
        .find(|o| o.short == Some(short))
}

/// Go-style `-bundle` / `-bundle=x` -> `--bundle`: runc's flag parser takes both.
fn go_style(arg: OsString, cmd: Option<&'static Cmd>) -> OsString {
    let Some(s) = arg.to_str() else { return arg };
    let Some(rest) = s.strip_prefix('-') else {
        return arg;
    };
    if rest.starts_with('-') || rest.chars().count() < 2 {
        return arg;
    }
    let name = rest.split('=').next().unwrap_or(rest);
    let known = cmd
        .map(|c| c.opts)
        .unwrap_or(&[])
        .iter()
        .chain(GLOBAL)
        .any(|o| o.long == name);
    if known {
        format!("-{s}").into()
    } else {
        arg
    }
}

/// [`go_style`] over a command line, up to where a command's verbatim arguments start:
/// after the id of `exec` and `ps` (`exec ID ps -user root` keeps `-user`). Tracks the command, option values and
/// positionals the way [`parse`] will see them.
fn go_style_all(argv: Vec<OsString>) -> Vec<OsString> {
    let mut cmd: Option<&'static Cmd> = None;
    let mut positionals = 0;
    let mut value_next = false;
    let mut out = Vec::with_capacity(argv.len());
    let mut args = argv.into_iter();
    while let Some(a) = args.next() {
        let s = a.to_str().unwrap_or_default();
        if value_next {
            value_next = false;
            out.push(a);
            continue;
        }
        if s == "--" {
            out.push(a);
            out.extend(args);
            break;
        }
        if !s.starts_with('-') || s == "-" {
            match cmd {
                None => cmd = command(s),
                Some(c) => {
                    positionals += 1;
                    if c.args.get(positionals).is_some_and(|p| p.rest) {
                        // As in `parse` (and runc): everything after it is verbatim.
                        out.push(a);
                        out.extend(args);
                        break;
                    }
                }
            }
            out.push(a);
            continue;
        }
        let a = go_style(a, cmd);
        let s = a.to_str().unwrap_or_default();
        if let Some(long) = s.strip_prefix("--").filter(|l| !l.contains('=')) {
            let name = cmd.map_or("", |c| c.name);
            value_next = find(name, long).is_some_and(|o| o.value.is_some());
        } else if let Some(short) = s.strip_prefix('-').filter(|r| r.chars().count() == 1) {
            let opt = short.chars().next().and_then(|c| find_short(cmd, c));
            value_next = opt.is_some_and(|o| o.value.is_some());
        }
        out.push(a);
    }
    out
}

/// Parse `argv` (without the program name).
pub fn parse(argv: impl IntoIterator<Item = OsString>) -> Result<Parsed, UsageError> {
    let mut m = Matches::default();
    let mut cmd: Option<&'static Cmd> = None;
    let mut p = lexopt::Parser::from_args(go_style_all(argv.into_iter().collect()));
    let err = |e: lexopt::Error| UsageError(e.to_string());
    let mut help = false;
    while let Some(arg) = p.next().map_err(err)? {
        let opt = match arg {
            lexopt::Arg::Long(l) => find(m.command, l)
                .filter(|o| cmd.is_some() || GLOBAL.iter().any(|g| g.long == o.long))
                .ok_or_else(|| unknown(&format!("--{l}"), cmd))?,
            lexopt::Arg::Short(s) => {
                find_short(cmd, s).ok_or_else(|| unknown(&format!("-{s}"), cmd))?
            }
            lexopt::Arg::Value(v) => {
                let v = v
                    .into_string()
                    .map_err(|v| UsageError(format!("argument {v:?} is not valid UTF-8")))?;
                match cmd {
                    None => {
                        let c = command(&v).ok_or_else(|| {
                            UsageError(format!(
                                "unknown command {v:?}; commands: {}",
                                COMMANDS
                                    .iter()
                                    .map(|c| c.name)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        })?;
                        cmd = Some(c);
                        m.command = c.name;
                    }
                    Some(c) => {
                        m.args.push(v);
                        let takes_rest = c.args.get(m.args.len()).is_some_and(|a| a.rest);
                        if takes_rest {
                            for raw in p.raw_args().map_err(err)? {
                                m.args.push(raw.into_string().map_err(|v| {
                                    UsageError(format!("argument {v:?} is not valid UTF-8"))
                                })?);
                            }
                        }
                    }
                }
                continue;
            }
        };
        match opt.long {
            "help" => help = true,
            "version" if cmd.is_none() => {
                return Ok(Parsed::Print(format!(
                    "pelagos-runtime {}\nspec: 1.2.0\n",
                    env!("CARGO_PKG_VERSION")
                )))
            }
            _ => {}
        }
        let value = option_value(&mut p, opt)?;
        m.opts.push((opt.long, value));
    }
    if help {
        return Ok(Parsed::Print(help_text(cmd)));
    }
    let Some(c) = cmd else {
        return Err(UsageError(format!(
            "no command given\n\n{}",
            help_text(None)
        )));
    };
    check(&m, c)?;
    Ok(Parsed::Run(m))
}

/// The value of `opt` (`--opt v`, `--opt=v`), or `None` for a flag, which must not have one.
fn option_value(p: &mut lexopt::Parser, opt: &Opt) -> Result<Option<String>, UsageError> {
    if opt.value.is_some() {
        let v = p
            .value()
            .map_err(|_| UsageError(format!("option --{} needs a value", opt.long)))?;
        return v
            .into_string()
            .map(Some)
            .map_err(|v| UsageError(format!("value {v:?} of --{} is not valid UTF-8", opt.long)));
    }
    match p.optional_value() {
        Some(v) => Err(UsageError(format!(
            "option --{} takes no value (got {v:?})",
            opt.long
        ))),
        None => Ok(None),
    }
}

fn check(m: &Matches, c: &Cmd) -> Result<(), UsageError> {
    let max = if c.args.last().is_some_and(|a| a.rest) {
        usize::MAX
    } else {
        c.args.len()
    };
    if let Some(missing) = c.args.iter().filter(|a| a.required).nth(m.args.len()) {
        return Err(UsageError(format!(
            "'{}' needs <{}> (see 'pelagos-runtime {} --help')",
            c.name, missing.name, c.name
        )));
    }
    if m.args.len() > max {
        return Err(UsageError(format!(
            "unexpected argument {:?} for '{}' (see 'pelagos-runtime {} --help')",
            m.args[max], c.name, c.name
        )));
    }
    for (long, allowed) in [
        ("log-format", &["text", "json"][..]),
        ("format", &["table", "json"][..]),
    ] {
        if let Some(v) = m.value(long).filter(|v| !allowed.contains(&v.as_str())) {
            return Err(UsageError(format!(
                "invalid value {v:?} for --{long}: use one of {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn unknown(what: &str, cmd: Option<&Cmd>) -> UsageError {
    let see = match cmd {
        Some(c) => format!("pelagos-runtime {} --help", c.name),
        None => "pelagos-runtime --help".into(),
    };
    UsageError(format!("unknown option '{what}' (see '{see}')"))
}

fn opt_lines(out: &mut String, opts: &[Opt]) {
    for o in opts.iter().filter(|o| !o.hidden) {
        let mut left = match o.short {
            Some(s) => format!("-{s}, --{}", o.long),
            None => format!("    --{}", o.long),
        };
        if let Some(v) = o.value {
            let _ = write!(left, " <{v}>");
        }
        let default = o
            .default
            .map(|d| format!(" [default: {d}]"))
            .unwrap_or_default();
        let _ = writeln!(out, "  {left:<34} {}{default}", o.help);
    }
}

/// `--help` of the program or of one command.
pub fn help_text(cmd: Option<&Cmd>) -> String {
    let mut out = String::new();
    match cmd {
        None => {
            out.push_str(
                "The runc-compatible OCI runtime of pelagos\n\n\
                 Usage: pelagos-runtime [GLOBAL OPTIONS] <COMMAND> [OPTIONS] [ARGS]\n\nCommands:\n",
            );
            for c in COMMANDS {
                let _ = writeln!(out, "  {:<10} {}", c.name, c.about);
            }
        }
        Some(c) => {
            let _ = write!(
                out,
                "{}\n\nUsage: pelagos-runtime [GLOBAL OPTIONS] {}",
                c.about, c.name
            );
            if !c.opts.is_empty() {
                out.push_str(" [OPTIONS]");
            }
            for a in c.args {
                let dots = if a.rest { "..." } else { "" };
                if a.required {
                    let _ = write!(out, " <{}>{dots}", a.name);
                } else {
                    let _ = write!(out, " [{}]{dots}", a.name);
                }
            }
            out.push('\n');
            if !c.args.is_empty() {
                out.push_str("\nArguments:\n");
                for a in c.args {
                    let _ = writeln!(out, "  {:<34} {}", format!("<{}>", a.name), a.help);
                }
            }
            if !c.opts.is_empty() {
                out.push_str("\nOptions:\n");
                opt_lines(&mut out, c.opts);
            }
        }
    }
    out.push_str("\nGlobal options (before or after the command):\n");
    opt_lines(&mut out, GLOBAL);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Matches {
        match parse(args.iter().map(OsString::from)) {
            Ok(Parsed::Run(m)) => m,
            Ok(Parsed::Print(s)) => panic!("printed {s}"),
            Err(e) => panic!("{args:?}: {}", e.0),
        }
    }

    fn fails(args: &[&str]) -> String {
        match parse(args.iter().map(OsString::from)) {
            Err(e) => e.0,
            Ok(_) => panic!("{args:?} parsed"),
        }
    }

    #[test]
    fn options_before_or_after_the_id() {
        let m = run(&["create", "x", "--bundle", "/b"]);
        assert_eq!((m.command, m.args[0].as_str()), ("create", "x"));
        assert_eq!(m.value("bundle").as_deref(), Some("/b"));
        let m = run(&["--root", "/r", "create", "--bundle=/b", "x", "--log", "/l"]);
        assert_eq!(m.value("root").as_deref(), Some("/r"));
        assert_eq!(m.value("log").as_deref(), Some("/l"));
        assert_eq!(m.value("bundle").as_deref(), Some("/b"));
        let m = run(&["start", "x", "--root", "/r2"]);
        assert_eq!(m.value("root").as_deref(), Some("/r2"));
    }

    #[test]
    fn go_style_long_options() {
        let m = run(&[
            "-root",
            "/r",
            "create",
            "-bundle",
            "/b",
            "x",
            "-pid-file=/p",
        ]);
        assert_eq!(m.value("root").as_deref(), Some("/r"));
        assert_eq!(m.value("bundle").as_deref(), Some("/b"));
        assert_eq!(m.value("pid-file").as_deref(), Some("/p"));
        // The command of `exec` is passed on verbatim, Go-style lookalikes included.
        let m = run(&["exec", "-cwd", "/", "-u", "0", "x", "ps", "-user", "root"]);
        assert_eq!(m.value("cwd").as_deref(), Some("/"));
        assert_eq!(m.args, ["x", "ps", "-user", "root"]);
        let m = run(&["exec", "-tty", "x", "sh", "-tty"]);
        assert!(m.flag("tty"));
        assert_eq!(m.args, ["x", "sh", "-tty"]);
    }

    #[test]
    fn defaults_and_repeats() {
        let m = run(&["kill", "x", "9"]);
        assert_eq!(m.value("root").as_deref(), Some("/run/pelagos-runtime"));
        assert_eq!(m.args, ["x", "9"]);
        let m = run(&[
            "exec",
            "-e",
            "A=1",
            "--env",
            "B=2",
            "x",
            "sh",
            "-c",
            "echo --root",
        ]);
        assert_eq!(m.values("env"), ["A=1", "B=2"]);
        assert_eq!(m.args, ["x", "sh", "-c", "echo --root"]);
        assert_eq!(m.value("root").as_deref(), Some("/run/pelagos-runtime"));
        let m = run(&["ps", "x", "-eo", "pid"]);
        assert_eq!(m.args, ["x", "-eo", "pid"]);
        let m = run(&["run", "-d", "--preserve-fds", "2", "x"]);
        assert!(m.flag("detach"));
        assert_eq!(m.parse::<u32>("preserve-fds").unwrap(), Some(2));
    }

    #[test]
    fn usage_errors_name_the_problem() {
        assert!(fails(&["create"]).contains("<ID>"));
        assert!(fails(&["create", "x", "--bogus"]).contains("--bogus"));
        assert!(fails(&["frobnicate"]).contains("frobnicate"));
        assert!(fails(&["start", "x", "y"]).contains("\"y\""));
        assert!(fails(&["list", "--format", "xml"]).contains("xml"));
        assert!(fails(&["--log-format", "yaml", "list"]).contains("yaml"));
        assert!(fails(&["create", "x", "--bundle"]).contains("--bundle"));
        assert!(fails(&["delete", "--force=yes", "x"]).contains("--force"));
        let m = run(&["run", "--preserve-fds", "many", "x"]);
        assert!(m
            .parse::<u32>("preserve-fds")
            .unwrap_err()
            .0
            .contains("many"));
    }

    #[test]
    fn help_and_version() {
        for args in [&["--help"][..], &["create", "--help"], &["exec", "-h"]] {
            match parse(args.iter().map(OsString::from)) {
                Ok(Parsed::Print(s)) => assert!(s.contains("Usage:"), "{s}"),
                _ => panic!("{args:?}"),
            }
        }
        match parse(["--version"].iter().map(OsString::from)) {
            Ok(Parsed::Print(s)) => assert!(s.starts_with("pelagos-runtime ")),
            _ => panic!("--version"),
        }
    }
}
