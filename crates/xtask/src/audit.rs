//! The dependency audit of `cargo xtask test`: `cargo audit` against an
//! offline snapshot of the RustSec advisory database, without network.
//!
//! The database is `$XTASK_ADVISORY_DB`, else `../shared/advisory-db` beside
//! the workspace (where the workplace lays it). Without one the audit tier is
//! skipped and the summary line says so: nothing is fetched, because the
//! machines this runs on reach crates.io but not GitHub.
//!
//! Every advisory that affects `Cargo.lock` fails the command, warnings
//! (unsound, unmaintained) included, unless `.cargo/audit.toml` (read by
//! cargo-audit itself, so a hand-run `cargo audit` agrees) ignores it with a
//! reason: a comment on the entry's line or right above it. An entry without
//! one fails the command too.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::tiers::Tier;
use crate::tools::CARGO_AUDIT;

/// Overrides where the advisory database is.
const DB_VAR: &str = "XTASK_ADVISORY_DB";
/// The ignore file, relative to the workspace root.
pub(crate) const IGNORE_FILE: &str = ".cargo/audit.toml";

/// An audit ready to run: the tool is installed and the database is there.
pub(crate) struct Audit {
    bin: PathBuf,
    db: PathBuf,
}

/// The advisory database's place for workspace `ws`.
fn db_path(ws: &Path) -> PathBuf {
    match std::env::var_os(DB_VAR) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => ws.join("../shared/advisory-db"),
    }
}

/// Finds the database, checks the ignore file and installs cargo-audit (once,
/// cached). The tier is skipped when there is no database.
pub(crate) fn prepare(ws: &Path) -> Result<(Tier, Option<Audit>)> {
    let tier = Tier::check("audit");
    let db = db_path(ws);
    if !db.join("crates").is_dir() {
        let why = format!(
            "no RustSec advisory database at {} (set {DB_VAR} to a copy of the \
             rustsec/advisory-db repository)",
            db.display()
        );
        eprintln!("xtask: the dependency audit is skipped: {why}");
        return Ok((tier.skip(why), None));
    }
    let ignore_file = ws.join(IGNORE_FILE);
    let text = std::fs::read_to_string(&ignore_file)
        .with_context(|| format!("reading {}", ignore_file.display()))?;
    ignored_advisories(&text).with_context(|| format!("in {}", ignore_file.display()))?;
    let bin = CARGO_AUDIT.ensure()?;
    Ok((tier, Some(Audit { bin, db })))
}

impl Audit {
    /// Runs cargo-audit on the workspace's `Cargo.lock`.
    pub(crate) fn run(&self, ws: &Path) -> Result<()> {
        let dated = describe_db(&self.db);
        eprintln!("xtask: advisory database {}: {dated}", self.db.display());
        crate::step(
            &format!("cargo audit (RustSec advisory database {dated})"),
            Command::new(&self.bin)
                .current_dir(ws)
                .arg("audit")
                .arg("--db")
                .arg(&self.db)
                .args(["--no-fetch", "--stale", "--deny", "warnings"]),
        )
    }
}

/// "snapshot of 2026-08-21, 1225 advisories, the newest of 2026-08-17": the
/// date from `SNAPSHOT.md` (the snapshot's own note) when there is one, and
/// what the advisories themselves say.
fn describe_db(db: &Path) -> String {
    let snapshot = std::fs::read_to_string(db.join("SNAPSHOT.md"))
        .ok()
        .and_then(|text| first_date(&text).map(str::to_owned));
    let (count, newest) = advisory_dates(db);
    let newest = newest.unwrap_or_else(|| "unknown".to_owned());
    match snapshot {
        Some(date) => format!("snapshot of {date}, {count} advisories, the newest of {newest}"),
        None => format!("no SNAPSHOT.md, {count} advisories, the newest of {newest}"),
    }
}

/// The first `YYYY-MM-DD` in `text`.
fn first_date(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(9)).find_map(|i| {
        let candidate = text.get(i..i + 10)?;
        is_date(candidate).then_some(candidate)
    })
}

fn is_date(s: &str) -> bool {
    s.len() == 10
        && s.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            _ => c.is_ascii_digit(),
        })
}

/// How many advisories the database holds and the latest `date = "…"` among them.
fn advisory_dates(db: &Path) -> (usize, Option<String>) {
    let mut count = 0;
    let mut newest: Option<String> = None;
    let mut dirs = vec![db.join("crates"), db.join("rust")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            count += 1;
            let date = text.lines().find_map(|l| {
                let value = l
                    .trim()
                    .strip_prefix("date")?
                    .trim_start()
                    .strip_prefix('=')?;
                let value = value.trim().trim_matches('"');
                is_date(value).then(|| value.to_owned())
            });
            if date > newest {
                newest = date;
            }
        }
    }
    (count, newest)
}

/// The advisories `audit.toml` ignores, each with its reason; an error names
/// the entries that have none. The file's `ignore = [ … ]` array is read line
/// by line: an entry's reason is the comment on its line or the comment lines
/// right above it.
fn ignored_advisories(text: &str) -> Result<Vec<(String, String)>> {
    let mut entries = Vec::new();
    let mut missing = Vec::new();
    let mut in_ignore = false;
    let mut pending: Vec<&str> = Vec::new();
    for line in text.lines() {
        let (code, comment) = match line.split_once('#') {
            Some((code, comment)) => (code, comment.trim()),
            None => (line, ""),
        };
        let mut code = code.trim();
        if !in_ignore {
            match code.strip_prefix("ignore") {
                Some(rest) if rest.trim_start().starts_with('=') => {
                    in_ignore = true;
                    code = rest.trim_start().trim_start_matches('=').trim_start();
                    code = code.strip_prefix('[').unwrap_or(code);
                }
                _ => continue,
            }
        }
        let closes = code.contains(']');
        let ids: Vec<&str> = code
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|id| !id.is_empty())
            .collect();
        if ids.is_empty() {
            if comment.is_empty() {
                pending.clear();
            } else {
                pending.push(comment);
            }
        } else {
            let reason = if comment.is_empty() {
                pending.join(" ")
            } else {
                comment.to_owned()
            };
            for id in ids {
                // The id alone is no reason.
                if reason
                    .replace(id, "")
                    .trim_matches([' ', ':', '(', ')', '-'])
                    .is_empty()
                {
                    missing.push(id.to_owned());
                } else {
                    entries.push((id.to_owned(), reason.clone()));
                }
            }
            pending.clear();
        }
        if closes {
            break;
        }
    }
    if !missing.is_empty() {
        bail!(
            "ignored advisories without a reason (write it as a comment on the entry's \
             line or right above it): {}",
            missing.join(", ")
        );
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ignored_advisory_carries_its_reason() {
        let text = r#"
# A comment before the table is nobody's reason.
[advisories]
ignore = [
    # RUSTSEC-2023-0071: rsa, Marvin: only public-key
    # verification here.
    "RUSTSEC-2023-0071",

    "RUSTSEC-2099-0001", # a reason on the same line
]
[yanked]
enabled = false
"#;
        assert_eq!(
            ignored_advisories(text).unwrap(),
            [
                (
                    "RUSTSEC-2023-0071".to_owned(),
                    "RUSTSEC-2023-0071: rsa, Marvin: only public-key verification here.".to_owned()
                ),
                (
                    "RUSTSEC-2099-0001".to_owned(),
                    "a reason on the same line".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn an_ignored_advisory_without_a_reason_is_refused() {
        let bare = "[advisories]\nignore = [\n  # about the next\n\n  \"RUSTSEC-2099-0001\",\n]\n";
        let err = ignored_advisories(bare).unwrap_err().to_string();
        assert!(err.contains("RUSTSEC-2099-0001"), "{err}");
        let id_only = "[advisories]\nignore = [\"RUSTSEC-2099-0002\"] # RUSTSEC-2099-0002\n";
        let err = ignored_advisories(id_only).unwrap_err().to_string();
        assert!(err.contains("RUSTSEC-2099-0002"), "{err}");
        assert!(
            ignored_advisories("[advisories]\nignore = []\n")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn the_workspace_ignore_file_gives_every_reason() {
        let ws = crate::workspace_root();
        let text = std::fs::read_to_string(ws.join(IGNORE_FILE)).unwrap();
        for (id, reason) in ignored_advisories(&text).unwrap() {
            assert!(reason.len() > 40, "{id}: a reason in a few words: {reason}");
        }
    }

    #[test]
    fn the_database_is_dated_from_its_snapshot_note_and_its_advisories() {
        assert_eq!(
            first_date("commit abc of 2026-08-21; 2026-12-05"),
            Some("2026-08-21")
        );
        assert_eq!(first_date("no date 2026-8-21"), None);
        let db = std::env::temp_dir().join(format!("xtask-db-{}", std::process::id()));
        let dir = db.join("crates/foo");
        std::fs::create_dir_all(&dir).unwrap();
        for (n, date) in [(1, "2024-01-02"), (2, "2025-03-04")] {
            let text = format!("```toml\n[advisory]\nid = \"X-{n}\"\ndate = \"{date}\"\n```\n");
            std::fs::write(dir.join(format!("X-{n}.md")), text).unwrap();
        }
        assert_eq!(
            describe_db(&db),
            "no SNAPSHOT.md, 2 advisories, the newest of 2025-03-04"
        );
        std::fs::write(db.join("SNAPSHOT.md"), "a copy of 2025-05-06\n").unwrap();
        assert_eq!(
            describe_db(&db),
            "snapshot of 2025-05-06, 2 advisories, the newest of 2025-03-04"
        );
        std::fs::remove_dir_all(&db).unwrap();
    }
}
