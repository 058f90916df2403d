//! An image's build history: the config's `history` entries joined with its layers.
//!
//! Every history entry without `empty_layer` produced the next layer, in order. Images
//! whose config records no history (or fewer entries than layers) get one row per
//! remaining layer with an empty "created by"; surplus entries get no layer.

use crate::digest::Digest;
use crate::gc::tree_size;
use crate::store::{ImageRecord, Store, StoreError};
use serde::{Deserialize, Serialize};

/// Errors from reading an image's history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The config does not parse.
    #[error("image {image}: cannot parse config history: {error}")]
    Config {
        /// The image id.
        image: Digest,
        /// The parser's complaint.
        error: serde_json::Error,
    },
}

/// One history row, oldest first.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct HistoryRow {
    /// Creation time as the config records it (RFC 3339), if any.
    pub created: Option<String>,
    /// The command that made the step.
    pub created_by: String,
    /// The builder's comment.
    pub comment: String,
    /// Author, if recorded.
    pub author: String,
    /// Whether the step made no layer.
    pub empty_layer: bool,
    /// The layer's diff_id, for steps that made one.
    pub layer: Option<Digest>,
    /// The layer blob's digest.
    pub blob: Option<Digest>,
    /// Apparent size of the unpacked layer (0 for empty steps).
    pub size: u64,
    /// Size of the layer blob as stored or downloaded.
    pub blob_size: u64,
}

#[derive(Deserialize, Default)]
struct Config {
    #[serde(default)]
    history: Option<Vec<Entry>>,
}

#[derive(Deserialize, Default)]
struct Entry {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    empty_layer: bool,
}

/// The history of `image`, oldest first.
pub fn history(store: &Store, image: &ImageRecord) -> Result<Vec<HistoryRow>, HistoryError> {
    let cfg: Config =
        serde_json::from_slice(&store.read_blob(&image.config_digest)?).map_err(|error| {
            HistoryError::Config {
                image: image.config_digest.clone(),
                error,
            }
        })?;
    let mut rows = join(cfg.history.unwrap_or_default(), image.layers.len());
    for row in &mut rows {
        if let Some(i) = row.layer_index.take() {
            let l = &image.layers[i];
            row.row.layer = Some(l.diff_id.clone());
            row.row.blob = Some(l.digest.clone());
            row.row.blob_size = l.size;
            row.row.size = tree_size(&store.layer_path(&l.diff_id));
        }
    }
    Ok(rows.into_iter().map(|r| r.row).collect())
}

struct Joined {
    row: HistoryRow,
    layer_index: Option<usize>,
}

/// Pair history entries with layer indexes.
fn join(entries: Vec<Entry>, layers: usize) -> Vec<Joined> {
    let mut next = 0;
    let mut out: Vec<Joined> = entries
        .into_iter()
        .map(|e| {
            let layer_index = (!e.empty_layer && next < layers).then(|| {
                next += 1;
                next - 1
            });
            Joined {
                row: HistoryRow {
                    created: e.created,
                    created_by: e.created_by.unwrap_or_default(),
                    comment: e.comment.unwrap_or_default(),
                    author: e.author.unwrap_or_default(),
                    empty_layer: e.empty_layer,
                    ..HistoryRow::default()
                },
                layer_index,
            }
        })
        .collect();
    out.extend((next..layers).map(|i| Joined {
        row: HistoryRow::default(),
        layer_index: Some(i),
    }));
    out
}

/// Seconds since the epoch of an RFC 3339 time (`2000-01-01T00:00:00Z`,
/// fractions and offsets allowed); `None` when it does not parse.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && matches!(&o[..1], "+" | "-") && &o[3..4] == ":" => {
            let v = o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(by: &str, empty: bool) -> Entry {
        Entry {
            created_by: Some(by.into()),
            empty_layer: empty,
            ..Entry::default()
        }
    }

    #[test]
    fn joins_entries_with_layers() {
        let rows = join(
            vec![entry("ADD", false), entry("ENV", true), entry("RUN", false)],
            2,
        );
        let idx: Vec<Option<usize>> = rows.iter().map(|r| r.layer_index).collect();
        assert_eq!(idx, [Some(0), None, Some(1)]);
    }

    #[test]
    fn missing_and_surplus_history() {
        let rows = join(Vec::new(), 2);
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.row.created_by.is_empty()));
        let rows = join(vec![entry("a", false), entry("b", false)], 1);
        assert_eq!(rows[1].layer_index, None);
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-01-01T00:00:00Z"), Some(946_684_800));
        assert_eq!(
            parse_rfc3339("2000-01-01T01:00:00.123456789+01:00"),
            Some(946_684_800)
        );
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        for bad in [
            "",
            "yesterday",
            "2000-13-01T00:00:00Z",
            "2000-01-01T00:00:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
