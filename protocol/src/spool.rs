//! The spool: events hook-client answered by its fail mode, kept for hookd to record later.
//!
//! Each record is one frame (u32 big-endian length, [`SPOOL_VERSION`], postcard
//! [`SpoolRecord`]) appended with one `write` under an exclusive `flock`. hookd takes the file
//! by renaming it, then locks the renamed file, which waits out any writer that opened it before
//! the rename; a writer that locks a file no longer at the spool path opens the new one. Each
//! record carries a unique id so the store records it exactly once even if ingestion is
//! interrupted and repeated.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use hook_protocol_core::wire;
use serde::{Deserialize, Serialize};

use crate::frame::{FrameError, LEN_BYTES, split_version};
use crate::message::HookEnv;
use crate::private;

pub use hook_protocol_core::SPOOL_VERSION;

/// The largest spool record accepted on ingest, in bytes.
pub const MAX_RECORD_LEN: u32 = crate::MAX_FRAME_LEN;

/// One event hook-client could not hand to hookd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SpoolRecord {
    /// Unique id: the store records each id once. hook-client uses its invocation's id, the
    /// one it sent in [`crate::HookRequest::id`]: a spooled copy of an event hookd already
    /// committed is recognised by it and dropped. Records written before protocol 3 carry an
    /// id of the same form made at spooling time, which matches no committed event.
    pub id: String,
    /// When hook-client gave up, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Why hookd could not answer.
    pub reason: String,
    /// What hook-client answered instead (`ask`, `pass`, `deny`).
    pub answered: String,
    /// The event bytes (at most [`crate::MAX_EVENT_LEN`]).
    #[serde(with = "serde_bytes")]
    pub event: Vec<u8>,
    /// The event's full length when it was cut to fit.
    pub truncated_from: Option<u64>,
    /// The hook process's environment values.
    pub env: HookEnv,
}

impl<'a> From<&'a SpoolRecord> for wire::SpoolRecord<'a> {
    fn from(r: &'a SpoolRecord) -> Self {
        Self {
            id: &r.id,
            time_ms: r.time_ms,
            reason: &r.reason,
            answered: &r.answered,
            event: &r.event,
            truncated_from: r.truncated_from,
            env: (&r.env).into(),
        }
    }
}

fn lock(file: &File) -> io::Result<()> {
    file.lock()
}

/// Appends one record to the spool at `path`, creating its directory (0700) and file (0600).
///
/// The directory must be private to us and the file a regular file of ours reached without a
/// symlink ([`crate::private`]): the spool holds raw, unredacted events.
///
/// # Errors
///
/// I/O errors, a refusal (`PermissionDenied`, saying why), or a record too large to encode.
pub fn append(path: &Path, record: &SpoolRecord) -> io::Result<()> {
    // hook-client's encoder, so both write the same bytes (`wire_tests` checks it against
    // serde's).
    let frame = wire::encode_spool_record(&record.into()).map_err(io::Error::other)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private::ensure_private_dir(dir, "spool directory")?;
    }
    for _ in 0..16 {
        let mut file = private::open_private(path, private::Access::Append, "spool file")?;
        lock(&file)?;
        let same = match std::fs::metadata(path) {
            Ok(m) => {
                let ours = file.metadata()?;
                m.ino() == ours.ino() && m.dev() == ours.dev()
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        if same {
            file.write_all(&frame)?;
            return Ok(());
        }
    }
    Err(io::Error::other("spool file kept moving while appending"))
}

/// What [`take`] found.
#[derive(Debug, Default)]
pub struct Taken {
    /// The records, in file order.
    pub records: Vec<SpoolRecord>,
    /// Problems met (a torn tail, an unreadable record); the bytes are kept aside.
    pub problems: Vec<String>,
    /// The files to delete once the records are safely stored.
    pub files: Vec<PathBuf>,
}

/// The name a spool is renamed to while it is ingested.
#[must_use]
pub fn ingesting_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".ingesting");
    PathBuf::from(p)
}

/// Takes the spool at `path` for ingestion: renames it aside, waits out writers, reads records.
///
/// A file left aside by an interrupted earlier ingestion is read first. Call [`finish`] with
/// the result once the records are stored.
///
/// # Errors
///
/// I/O errors other than "no spool".
pub fn take(path: &Path) -> io::Result<Taken> {
    let aside = ingesting_path(path);
    let mut taken = Taken::default();
    if !aside.exists() {
        match std::fs::rename(path, &aside) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(taken),
            Err(e) => return Err(e),
        }
    }
    let mut file = private::open_private(&aside, private::Access::Read, "spool file")?;
    lock(&file)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    taken.files.push(aside.clone());
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let Some((header, _)) = rest.split_first_chunk::<LEN_BYTES>() else {
            taken.problems.push(format!(
                "torn record of {} bytes at the end of the spool",
                rest.len()
            ));
            break;
        };
        let len = u32::from_be_bytes(*header);
        if len > MAX_RECORD_LEN || rest.len() < LEN_BYTES + len as usize {
            taken.problems.push(format!(
                "torn or oversized record at byte {at} of the spool ({len} bytes announced)"
            ));
            break;
        }
        let frame = &rest[LEN_BYTES..LEN_BYTES + len as usize];
        at += LEN_BYTES + len as usize;
        match split_version(frame) {
            Ok((SPOOL_VERSION, body)) => match postcard::from_bytes::<SpoolRecord>(body) {
                Ok(r) => taken.records.push(r),
                Err(e) => taken.problems.push(format!("unreadable spool record: {e}")),
            },
            Ok((v, _)) => taken.problems.push(format!(
                "spool record of format {v} (this hookd reads {SPOOL_VERSION}) skipped"
            )),
            Err(e) => taken
                .problems
                .push(format!("bad spool record: {}", FrameError::to_string(&e))),
        }
    }
    if !taken.problems.is_empty() {
        // Keep the raw bytes for inspection; the good records are still ingested.
        let mut kept = aside.as_os_str().to_owned();
        kept.push(format!(".damaged-{}", std::process::id()));
        private::write_private(&PathBuf::from(&kept), &bytes)?;
    }
    Ok(taken)
}

/// Deletes the files of a [`Taken`] once its records are stored.
///
/// # Errors
///
/// I/O errors other than "already gone".
pub fn finish(taken: &Taken) -> io::Result<()> {
    for f in &taken.files {
        match std::fs::remove_file(f) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Bytes waiting in the spool (including a file being ingested).
#[must_use]
pub fn backlog_bytes(path: &Path) -> u64 {
    [path.to_path_buf(), ingesting_path(path)]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    fn record(n: u32) -> SpoolRecord {
        SpoolRecord {
            id: format!("id-{n}"),
            time_ms: 1,
            reason: "connect refused".into(),
            answered: "ask".into(),
            event: format!("{{\"n\":{n}}}").into_bytes(),
            truncated_from: None,
            env: HookEnv::default(),
        }
    }

    #[test]
    fn append_then_take_returns_records_in_order_and_finish_removes_them() {
        let dir = tempdir();
        let path = dir.join("state").join("spool");
        for n in 0..3 {
            append(&path, &record(n)).unwrap();
        }
        let taken = take(&path).unwrap();
        assert_eq!(taken.records, (0..3).map(record).collect::<Vec<_>>());
        assert!(taken.problems.is_empty());
        assert!(!path.exists());
        finish(&taken).unwrap();
        assert!(!ingesting_path(&path).exists());
        assert!(take(&path).unwrap().records.is_empty());
    }

    #[test]
    fn interrupted_ingestion_is_resumed_from_the_aside_file() {
        let dir = tempdir();
        let path = dir.join("spool");
        append(&path, &record(1)).unwrap();
        let first = take(&path).unwrap();
        // hookd died before `finish`; a new event arrives meanwhile.
        append(&path, &record(2)).unwrap();
        let again = take(&path).unwrap();
        assert_eq!(again.records, first.records);
        finish(&again).unwrap();
        assert_eq!(take(&path).unwrap().records, vec![record(2)]);
    }

    #[test]
    fn torn_tail_keeps_good_records_and_reports_the_problem() {
        let dir = tempdir();
        let path = dir.join("spool");
        append(&path, &record(1)).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0, 0, 1, 0, 0, 0]).unwrap();
        let taken = take(&path).unwrap();
        assert_eq!(taken.records, vec![record(1)]);
        assert_eq!(taken.problems.len(), 1, "{:?}", taken.problems);
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "hook-protocol-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
