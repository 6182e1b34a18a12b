//! The emergency journal: where answered events go when the store cannot take them (a full
//! disk, a read-only or broken database), so that an event whose verdict was delivered
//! survives `kill -9` even then.
//!
//! Space for it is set aside when hookd starts (`[store] emergency_journal`, default
//! [`hook_engine::settings::DEFAULT_EMERGENCY_JOURNAL`]): the file is preallocated, so appending within that size needs no new
//! blocks and succeeds on a full disk. It may grow past the reserve while the disk has room.
//! Appends are written at the end with one `pwrite` and, with `synchronous = "full"`, synced
//! (the store commit's discipline: without it, both survive a crash of hookd but not of the
//! machine). Records are moved into the store in order, each under its own id
//! (`j<epoch>-<offset>`, recorded as the row's `spool_id`, which is unique), so a move
//! interrupted by a crash and repeated records nothing twice. Once all are in the store the
//! journal starts over under a new epoch; records of older epochs no longer verify.
//!
//! File: a 16-byte header (`hookdJ01`, the epoch as u64 little-endian), then records: the
//! body length (u32 big-endian), a 64-bit FNV-1a checksum of epoch, length and body (u64
//! little-endian), the postcard body. Reading stops at the first record that does not verify
//! (the preallocated zeros, a torn tail, an older epoch).
//!
//! Must not decide when to journal or move records (the store's `recover` module does), and
//! never writes outside its file.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::EventRecord;

/// Bytes set aside for the journal unless `[store] emergency_journal` says otherwise: about
/// 4,000 events of 1 KiB.
#[cfg(test)]
pub const DEFAULT_RESERVE: u64 = 4 << 20;
/// The smallest reserve accepted, in bytes.
pub const MIN_RESERVE: u64 = 64 << 10;

const MAGIC: &[u8; 8] = b"hookdJ01";
/// Header length in bytes.
const HEADER: u64 = 16;
/// Record head length in bytes (length, checksum).
const HEAD: u64 = 12;
/// The largest record body accepted on reading, in bytes.
const MAX_BODY: u32 = 64 << 20;

/// An event as journaled (borrowed for writing).
#[derive(Serialize)]
struct EntryRef<'a> {
    time_ms: i64,
    session_id: Option<&'a str>,
    event: &'a str,
    tool: Option<&'a str>,
    project_dir: Option<&'a str>,
    #[serde(with = "serde_bytes")]
    payload: &'a [u8],
    verdict: &'a str,
    reason: Option<&'a str>,
    rules: &'a [String],
    latency_us: i64,
    source: &'a str,
    summary: Option<&'a str>,
    redacted: &'a [String],
    client_id: Option<&'a str>,
}

/// An event as journaled (owned, for reading): the same fields in the same order.
#[derive(Deserialize)]
struct Entry {
    time_ms: i64,
    session_id: Option<String>,
    event: String,
    tool: Option<String>,
    project_dir: Option<String>,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
    verdict: String,
    reason: Option<String>,
    rules: Vec<String>,
    latency_us: i64,
    source: String,
    summary: Option<String>,
    redacted: Vec<String>,
    client_id: Option<String>,
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn now_nanos() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    )
    .unwrap_or(u64::MAX)
}

/// The emergency journal file.
pub struct Journal {
    file: File,
    path: PathBuf,
    /// Bytes to keep preallocated.
    reserve: u64,
    /// Why the reserve could not be made, if it could not.
    reserve_error: Option<String>,
    epoch: u64,
    /// Where the next record goes.
    end: u64,
    /// Records before this offset are in the store.
    moved: u64,
    /// Records between `moved` and `end`.
    held: u64,
    /// Sync each append (`synchronous = "full"`).
    sync: bool,
}

impl Journal {
    /// Opens the journal at `path` (creating it, 0600, never through a symlink), finds the
    /// records it holds and sets `reserve` bytes aside.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or read.
    pub fn open(path: &Path, reserve: u64, sync: bool) -> io::Result<Self> {
        // Never through a link, a regular file of ours (like every file hookd writes).
        let file = hook_protocol::private::open_private(
            path,
            hook_protocol::private::Access::ReadWrite,
            "emergency journal",
        )?;
        let meta = file.metadata()?;
        let mut j = Self {
            file,
            path: path.to_path_buf(),
            reserve: reserve.max(MIN_RESERVE),
            reserve_error: None,
            epoch: 0,
            end: HEADER,
            moved: HEADER,
            held: 0,
            sync,
        };
        let mut header = [0u8; HEADER as usize];
        let has_header = meta.len() >= HEADER
            && j.file.read_exact_at(&mut header, 0).is_ok()
            && &header[..8] == MAGIC;
        if has_header {
            let mut epoch = [0u8; 8];
            epoch.copy_from_slice(&header[8..]);
            j.epoch = u64::from_le_bytes(epoch);
            let mut at = HEADER;
            while let Some((_, next)) = j.read_at(at, meta.len())? {
                at = next;
                j.held += 1;
            }
            j.end = at;
        } else {
            if meta.len() > 0 {
                tracing::warn!(path = %path.display(), "the emergency journal had no valid header; starting it over");
            }
            j.write_header(now_nanos())?;
        }
        j.make_reserve();
        Ok(j)
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Events waiting to be moved into the store.
    #[must_use]
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Bytes set aside now (0 when the reserve could not be made).
    #[must_use]
    pub fn reserved(&self) -> u64 {
        if self.reserve_error.is_some() {
            0
        } else {
            self.reserve
        }
    }

    /// Why the reserve could not be made, if so.
    #[must_use]
    pub fn reserve_error(&self) -> Option<&str> {
        self.reserve_error.as_deref()
    }

    fn write_header(&mut self, epoch: u64) -> io::Result<()> {
        let mut header = [0u8; HEADER as usize];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&epoch.to_le_bytes());
        self.file.write_all_at(&header, 0)?;
        if self.sync {
            self.file.sync_data()?;
        }
        self.epoch = epoch;
        self.end = HEADER;
        self.moved = HEADER;
        self.held = 0;
        Ok(())
    }

    /// Allocates the reserve's blocks (the file is at least that long afterwards).
    fn make_reserve(&mut self) {
        self.reserve_error = preallocate(&self.file, self.reserve).err().map(|e| {
            let text = format!(
                "cannot set aside {} bytes for the emergency journal {}: {e}",
                self.reserve,
                self.path.display()
            );
            tracing::error!(error = %text, "no emergency reserve");
            text
        });
    }

    /// Reads the record at `at` (the file being `len` bytes): the entry and the next offset,
    /// or `None` where the records end.
    fn read_at(&self, at: u64, len: u64) -> io::Result<Option<(Entry, u64)>> {
        if at + HEAD > len {
            return Ok(None);
        }
        let mut head = [0u8; HEAD as usize];
        self.file.read_exact_at(&mut head, at)?;
        let body_len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&head[4..]);
        let sum = u64::from_le_bytes(sum);
        let next = at + HEAD + u64::from(body_len);
        if body_len == 0 || body_len > MAX_BODY || next > len {
            return Ok(None);
        }
        let mut body = vec![0u8; body_len as usize];
        self.file.read_exact_at(&mut body, at + HEAD)?;
        if fnv1a(&[&self.epoch.to_le_bytes(), &head[..4], &body]) != sum {
            return Ok(None);
        }
        match postcard::from_bytes::<Entry>(&body) {
            Ok(e) => Ok(Some((e, next))),
            Err(e) => {
                tracing::error!(error = %e, offset = at, "unreadable record in the emergency journal; reading stops there");
                Ok(None)
            }
        }
    }

    /// Appends `recs` with one write (and a sync with `synchronous = "full"`): all of them
    /// are in the journal afterwards, or (on error) none counts as written.
    ///
    /// # Errors
    ///
    /// The write's error (a full disk past the reserve), or an event too large to encode.
    pub fn append(&mut self, recs: &[&EventRecord]) -> io::Result<()> {
        let mut buf = Vec::new();
        for r in recs {
            let entry = EntryRef {
                time_ms: r.time_ms,
                session_id: r.session_id.as_deref(),
                event: &r.event,
                tool: r.tool.as_deref(),
                project_dir: r.project_dir.as_deref(),
                payload: &r.payload,
                verdict: r.verdict.as_str(),
                reason: r.reason.as_deref(),
                rules: &r.rules,
                latency_us: r.latency_us,
                source: r.source.as_str(),
                summary: r.summary.as_deref(),
                redacted: &r.redacted,
                client_id: r.client_id.as_deref(),
            };
            let body = postcard::to_allocvec(&entry).map_err(io::Error::other)?;
            let len = u32::try_from(body.len())
                .ok()
                .filter(|n| *n <= MAX_BODY)
                .ok_or_else(|| io::Error::other("event too large for the journal"))?
                .to_be_bytes();
            let sum = fnv1a(&[&self.epoch.to_le_bytes(), &len, &body]);
            buf.extend_from_slice(&len);
            buf.extend_from_slice(&sum.to_le_bytes());
            buf.extend_from_slice(&body);
        }
        // A failed or short write leaves `end` where it was: the next append overwrites the
        // partial record, and reading stops at it meanwhile (it does not verify).
        self.file.write_all_at(&buf, self.end)?;
        if self.sync {
            self.file.sync_data()?;
        }
        self.end += buf.len() as u64;
        self.held += recs.len() as u64;
        Ok(())
    }

    /// Up to `max` records not yet in the store, oldest first, each with its id (for the
    /// row's `spool_id`), and the offset to pass to [`Journal::moved`] once they are stored.
    ///
    /// # Errors
    ///
    /// Read errors.
    pub fn next_batch(&self, max: usize) -> io::Result<(Vec<EventRecord>, u64)> {
        let mut out = Vec::new();
        let mut at = self.moved;
        while out.len() < max {
            let Some((e, next)) = self.read_at(at, self.end)? else {
                break;
            };
            out.push(EventRecord {
                time_ms: e.time_ms,
                session_id: e.session_id,
                event: e.event,
                tool: e.tool,
                project_dir: e.project_dir,
                payload: e.payload,
                verdict: crate::verdict::Verdict::parse(&e.verdict),
                reason: e.reason,
                rules: e.rules,
                latency_us: e.latency_us,
                source: crate::verdict::Source::parse(&e.source),
                spool_id: Some(format!("j{:x}-{at:x}", self.epoch)),
                summary: e.summary,
                redacted: e.redacted,
                touch_session: true,
                client_id: e.client_id,
                fail_mode: None,
                checked_through: None,
            });
            at = next;
        }
        if out.is_empty() && at < self.end {
            // Appended records that no longer verify (the file was damaged): nothing more can
            // be read from them.
            tracing::error!(path = %self.path.display(), offset = at, "the emergency journal is damaged past this offset; skipping the rest");
            return Ok((out, self.end));
        }
        Ok((out, at))
    }

    /// Records up to `to` (`n` of them) are in the store now. When none is left the journal
    /// starts over under a new epoch, gives back what it grew past the reserve and sets the
    /// reserve aside again.
    ///
    /// # Errors
    ///
    /// When the new header cannot be written (the records are then moved again, harmlessly,
    /// next time).
    pub fn moved(&mut self, to: u64, n: u64) -> io::Result<()> {
        self.moved = to.min(self.end);
        self.held = self.held.saturating_sub(n);
        if self.moved < self.end {
            return Ok(());
        }
        self.write_header(now_nanos().max(self.epoch + 1))?;
        if self.file.metadata().is_ok_and(|m| m.len() > self.reserve) {
            let _ = self.file.set_len(self.reserve);
        }
        self.make_reserve();
        Ok(())
    }

    /// Tries to set the reserve aside again if it could not be made before.
    pub fn retry_reserve(&mut self) {
        if self.reserve_error.is_some() {
            self.make_reserve();
        }
    }
}

/// Makes sure the first `len` bytes of `file` have blocks on disk.
fn preallocate(file: &File, len: u64) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // Mode 0 allocates (and extends) the range.
        match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::OPNOTSUPP) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // No fallocate here: write zeros over what is not written yet (all of it is ours anyway).
    let have = file.metadata()?.len();
    if have >= len {
        return Ok(());
    }
    let zeros = vec![0u8; 64 << 10];
    let mut at = have;
    while at < len {
        let n = usize::try_from((len - at).min(zeros.len() as u64)).unwrap_or(zeros.len());
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: i64) -> EventRecord {
        EventRecord {
            time_ms: n,
            session_id: Some(format!("s{n}")),
            event: "PreToolUse".into(),
            payload: format!("{{\"n\":{n}}}").into_bytes(),
            verdict: "deny".into(),
            rules: vec!["r".into()],
            source: crate::verdict::Source::Socket,
            client_id: Some(format!("c{n}")),
            ..EventRecord::default()
        }
    }

    #[test]
    fn appended_records_survive_reopening_and_are_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal");
        let mut j = Journal::open(&p, MIN_RESERVE, false).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), MIN_RESERVE);
        j.append(&[&rec(1), &rec(2)]).unwrap();
        j.append(&[&rec(3)]).unwrap();
        drop(j);
        let j = Journal::open(&p, MIN_RESERVE, false).unwrap();
        assert_eq!(j.held(), 3);
        let (recs, _) = j.next_batch(10).unwrap();
        assert_eq!(
            recs.iter().map(|r| r.time_ms).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(recs[1].verdict, "deny");
        assert_eq!(recs[1].client_id.as_deref(), Some("c2"));
        let ids: std::collections::HashSet<_> = recs.iter().map(|r| r.spool_id.clone()).collect();
        assert_eq!(ids.len(), 3, "each record has its own id");
    }

    #[test]
    fn moving_everything_starts_over_and_old_records_do_not_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal");
        let mut j = Journal::open(&p, MIN_RESERVE, true).unwrap();
        j.append(&[&rec(1), &rec(2), &rec(3)]).unwrap();
        let (first, to) = j.next_batch(2).unwrap();
        assert_eq!(first.len(), 2);
        j.moved(to, 2).unwrap();
        assert_eq!(j.held(), 1);
        let (rest, to) = j.next_batch(10).unwrap();
        assert_eq!(rest[0].time_ms, 3);
        let old_id = rest[0].spool_id.clone();
        j.moved(to, 1).unwrap();
        assert_eq!(j.held(), 0);
        // A new epoch: the bytes of the old records are still in the file but do not verify.
        drop(j);
        let mut j = Journal::open(&p, MIN_RESERVE, false).unwrap();
        assert_eq!(j.held(), 0);
        j.append(&[&rec(9)]).unwrap();
        let (again, _) = j.next_batch(10).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].time_ms, 9);
        assert_ne!(
            again[0].spool_id, old_id,
            "ids are not reused across epochs"
        );
    }

    #[test]
    fn a_torn_tail_is_ignored_and_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal");
        let mut j = Journal::open(&p, MIN_RESERVE, false).unwrap();
        j.append(&[&rec(1)]).unwrap();
        let end = j.end;
        // Half a record after it, as a write cut short would leave.
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.write_all_at(&[0, 0, 0, 40, 1, 2, 3, 4, 5, 6, 7, 8, 9], end)
            .unwrap();
        drop(j);
        let mut j = Journal::open(&p, MIN_RESERVE, false).unwrap();
        assert_eq!(j.held(), 1);
        j.append(&[&rec(2)]).unwrap();
        drop(j);
        let j = Journal::open(&p, MIN_RESERVE, false).unwrap();
        let (recs, _) = j.next_batch(10).unwrap();
        assert_eq!(
            recs.iter().map(|r| r.time_ms).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }

    #[test]
    fn a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"x").unwrap();
        let p = dir.path().join("journal");
        std::os::unix::fs::symlink(&target, &p).unwrap();
        assert!(Journal::open(&p, MIN_RESERVE, false).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"x");
    }
}
