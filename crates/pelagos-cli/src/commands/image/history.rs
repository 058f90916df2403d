//! `pelagos image history`: the build steps of an image, newest first.

use super::{human_size, open_store, out, Format, Paths};
use anyhow::Result;
use pelagos_image::history::{self, parse_rfc3339, HistoryRow};

/// Width of the CREATED BY column unless `--no-trunc`.
const CREATED_BY_WIDTH: usize = 45;

/// Arguments of `pelagos image history`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
One row per step of the image config's history, joined with the image's layers: SIZE is \
the unpacked size of the layer the step made (0B for steps that made none, such as ENV). \
Steps the config does not record show with an empty CREATED BY.

Examples:
  pelagos image history busybox
  pelagos image history --no-trunc --format json busybox")]
pub struct HistoryArgs {
    /// Image reference or id.
    pub image: String,
    /// Do not truncate CREATED BY; show CREATED as recorded.
    #[arg(long)]
    pub no_trunc: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Run `image history`.
pub fn run(paths: &Paths, a: &HistoryArgs) -> Result<()> {
    let store = open_store(paths)?;
    let img = store.lookup(&a.image)?;
    let mut rows = history::history(&store, &img)?;
    rows.reverse();
    if a.format == Format::Json {
        return out(&serde_json::to_string_pretty(&rows)?);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_header(["CREATED", "CREATED BY", "SIZE", "COMMENT"]);
    for r in &rows {
        t.add_row([
            created(r, now, a.no_trunc),
            created_by(&r.created_by, a.no_trunc),
            human_size(r.size),
            r.comment.clone(),
        ]);
    }
    out(&t.to_string())
}

fn created(r: &HistoryRow, now: i64, raw: bool) -> String {
    match (&r.created, raw) {
        (None, _) => "<missing>".into(),
        (Some(c), true) => c.clone(),
        (Some(c), false) => parse_rfc3339(c).map_or_else(|| c.clone(), |t| ago(now - t)),
    }
}

fn created_by(s: &str, full: bool) -> String {
    let s = s.replace(['\n', '\t'], " ");
    if full || s.chars().count() <= CREATED_BY_WIDTH {
        return s;
    }
    let mut t: String = s.chars().take(CREATED_BY_WIDTH - 1).collect();
    t.push('…');
    t
}

/// `3 days ago`, `About an hour ago`, `26 years ago`.
fn ago(secs: i64) -> String {
    const UNITS: [(i64, &str); 6] = [
        (365 * 86400, "year"),
        (30 * 86400, "month"),
        (7 * 86400, "week"),
        (86400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ];
    if secs < 0 {
        return "in the future".into();
    }
    for (len, name) in UNITS {
        let n = secs / len;
        if n >= 2 {
            return format!("{n} {name}s ago");
        }
        if n == 1 {
            return format!(
                "About a{} {name} ago",
                if name == "hour" { "n" } else { "" }
            );
        }
    }
    "Less than a minute ago".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        assert_eq!(ago(30), "Less than a minute ago");
        assert_eq!(ago(3600), "About an hour ago");
        assert_eq!(ago(3 * 86400 + 5), "3 days ago");
        assert_eq!(ago(26 * 365 * 86400), "26 years ago");
        assert_eq!(ago(-5), "in the future");
    }

    #[test]
    fn truncation() {
        let long = "x".repeat(60);
        let t = created_by(&long, false);
        assert_eq!(t.chars().count(), CREATED_BY_WIDTH);
        assert!(t.ends_with('…'));
        assert_eq!(created_by(&long, true), long);
        assert_eq!(created_by("a\nb", false), "a b");
    }
}
