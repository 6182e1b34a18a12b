//! The read connections: a few read-only connections kept between queries, so a query does not
//! open the database (file, schema, shared memory) each time, and keeps its page cache and
//! prepared statements.
//!
//! A connection is checked out for one query ([`Readers::get`]) and put back when the query is
//! done; at most [`MAX_IDLE`] wait between queries, more are opened while queries overlap. It
//! is opened again when the file at the path is another one (deleted, replaced or moved aside:
//! queries follow the file the writer follows), and every connection is closed when the
//! writer opens the database again ([`Readers::invalidate`]): SQLite shares one shared-memory
//! mapping per file within a process, and a read connection opened while the file system was
//! read-only would keep that mapping read-only for the new write connection too.
//!
//! Must not write, and must not be used on an async worker: [`Readers::get`] asserts it (see
//! the blocking policy in [`super`]).

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, OpenFlags};

use super::recover::file_id;
use super::{StoreError, assert_may_block, lock, sqlite};

/// Read connections kept between queries at most.
pub(super) const MAX_IDLE: usize = 2;

/// The store's read connections.
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Reader>>,
    /// Bumped by [`Readers::invalidate`]: a connection opened before is closed when it comes
    /// back, not kept.
    generation: AtomicU64,
    /// Connections opened since start.
    opened: AtomicU64,
}

/// One read-only connection and the file it has open.
struct Reader {
    conn: Connection,
    /// The identity (device, inode) of the file at the path when it was opened.
    file: Option<(u64, u64)>,
    generation: u64,
}

/// A read connection checked out for one query; goes back to the pool when dropped.
pub(super) struct ReadConn<'a> {
    readers: &'a Readers,
    reader: Option<Reader>,
}

impl Readers {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::with_capacity(MAX_IDLE)),
            generation: AtomicU64::new(0),
            opened: AtomicU64::new(0),
        }
    }

    /// A read connection to the file at the path now: a kept one when it still has that file
    /// open, else a new one. Blocks (opening the file, then the query itself).
    ///
    /// # Errors
    ///
    /// SQLite errors opening the database (e.g. no file at the path).
    pub(super) fn get(&self) -> Result<ReadConn<'_>, StoreError> {
        assert_may_block();
        let generation = self.generation.load(Ordering::Acquire);
        let now = file_id(&self.path);
        let kept = {
            let mut idle = lock(&self.idle);
            // Newest first; older ones on another file are closed as they are passed.
            let mut found = None;
            while let Some(r) = idle.pop() {
                if r.generation == generation && now.is_some() && r.file == now {
                    found = Some(r);
                    break;
                }
            }
            found
        };
        let reader = match kept {
            Some(r) => r,
            None => self.open(now, generation)?,
        };
        Ok(ReadConn {
            readers: self,
            reader: Some(reader),
        })
    }

    fn open(&self, file: Option<(u64, u64)>, generation: u64) -> Result<Reader, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite(&self.path))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite(&self.path))?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        // The identity taken before opening: were the file replaced in between, the next
        // query sees another identity and opens the new file.
        Ok(Reader {
            conn,
            file,
            generation,
        })
    }

    /// Closes the kept connections, and those checked out once they come back. The writer
    /// calls it before it opens the database again, and after `PRAGMA optimize` (a connection
    /// plans with the statistics it loaded when it opened).
    pub(super) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let stale = std::mem::take(&mut *lock(&self.idle));
        drop(stale);
    }

    /// Read connections opened since start.
    #[cfg(test)]
    pub(super) fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    fn put_back(&self, r: Reader) {
        if r.generation != self.generation.load(Ordering::Acquire) {
            return;
        }
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE {
            idle.push(r);
        }
    }
}

impl Deref for ReadConn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        // Taken only in `drop`.
        &self.reader.as_ref().unwrap_or_else(|| unreachable!()).conn
    }
}

impl DerefMut for ReadConn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.reader.as_mut().unwrap_or_else(|| unreachable!()).conn
    }
}

impl Drop for ReadConn<'_> {
    fn drop(&mut self) {
        if let Some(r) = self.reader.take() {
            // A connection left inside a transaction (a query that failed half-way) is not
            // kept: it would hold its read snapshot and keep checkpoints from finishing.
            if r.conn.is_autocommit() {
                self.readers.put_back(r);
            }
        }
    }
}
