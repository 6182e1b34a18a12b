//! Appending to the spool (`hook_protocol::spool::append`): one frame per record, written with
//! one `write` under an exclusive `flock`, to a private file in a private directory. hookd takes
//! the file by renaming it and locking the renamed file, so a writer that locked a file no
//! longer at the spool path opens the new one.

use hook_protocol_core::wire::{self, SpoolRecord};

use crate::paths::parent;
use crate::sys;
use crate::trust::{self, Error};

/// Appends `record` to the spool at `path`, creating its directory (0700) and file (0600).
///
/// # Errors
///
/// The system's, a refusal (saying why), or a record too large to encode.
pub fn append(path: &[u8], record: &SpoolRecord<'_>) -> Result<(), Error> {
    let frame = wire::encode_spool_record(record)
        .map_err(|e| Error::Other(alloc::string::ToString::to_string(&e)))?;
    if let Some(dir) = parent(path).filter(|d| !d.is_empty()) {
        trust::ensure_private_dir(dir, "spool directory")?;
    }
    for _ in 0..16 {
        let file = trust::open_private_append(path, "spool file")?;
        sys::lock_exclusive(&file)?;
        let same = match sys::stat(path, true) {
            Ok(m) => {
                let ours = sys::fstat(&file)?;
                m.ino == ours.ino && m.dev == ours.dev
            }
            Err(e) if e.not_found() => false,
            Err(e) => return Err(e.into()),
        };
        if same {
            sys::write_all(file.raw(), &frame)?;
            return Ok(());
        }
    }
    Err(Error::Other(
        "spool file kept moving while appending".into(),
    ))
}
