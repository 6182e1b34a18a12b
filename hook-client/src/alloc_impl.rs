//! hook-client's memory: a bump allocator over `mmap`ed chunks (Linux).
//!
//! hook-client lives for a millisecond and allocates a few dozen blocks: the event, the request
//! frame, the reply, a few strings. Freeing is left to the exit, except that the newest block
//! can grow, shrink or be freed in place (the event buffer grows while stdin is read), and
//! blocks of `BIG` (64 KiB) or more get their own mapping, which grows with `mremap` and is
//! unmapped when freed: a 16 MiB event is never copied to grow. Single-threaded, like
//! hook-client; the atomics only make the statics safe to share.
#![allow(unsafe_code)] // a global allocator hands out raw memory

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use crate::sys;

/// Blocks at least this large get their own mapping.
const BIG: usize = 64 * 1024;
/// The size of the chunks small blocks are cut from.
const CHUNK: usize = 256 * 1024;
/// Mappings are whole pages (4 KiB, or more: `mmap` rounds up, `mremap` is given the rounded
/// sizes).
const PAGE: usize = 4096;

/// The allocator.
pub struct Bump {
    /// The next free byte of the current chunk.
    next: AtomicUsize,
    /// The end of the current chunk.
    end: AtomicUsize,
    /// The start of the newest small block (which may grow or be freed in place).
    last: AtomicUsize,
}

impl Default for Bump {
    fn default() -> Self {
        Self::new()
    }
}

impl Bump {
    /// An allocator with no chunk yet.
    pub const fn new() -> Self {
        Self {
            next: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            last: AtomicUsize::new(0),
        }
    }

    fn small(&self, layout: Layout) -> *mut u8 {
        let align = layout.align();
        let mut start = self.next.load(Relaxed).next_multiple_of(align);
        if self.next.load(Relaxed) == 0
            || start
                .checked_add(layout.size())
                .is_none_or(|e| e > self.end.load(Relaxed))
        {
            let Ok(chunk) = sys::map(CHUNK) else {
                return ptr::null_mut();
            };
            let chunk = chunk as usize;
            self.end.store(chunk + CHUNK, Relaxed);
            start = chunk.next_multiple_of(align);
        }
        self.last.store(start, Relaxed);
        self.next.store(start + layout.size(), Relaxed);
        start as *mut u8
    }
}

fn pages(n: usize) -> usize {
    n.next_multiple_of(PAGE)
}

// SAFETY: blocks never overlap (each chunk is cut forward; big blocks are their own mappings),
// and each is aligned as asked (chunks and mappings are page-aligned; larger alignments than a
// page are refused with a null pointer).
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > PAGE {
            return ptr::null_mut();
        }
        if layout.size() >= BIG {
            return sys::map(pages(layout.size())).unwrap_or(ptr::null_mut());
        }
        self.small(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= BIG {
            // SAFETY: a big block is a whole mapping of these pages.
            unsafe { sys::unmap(ptr, pages(layout.size())) };
        } else if ptr as usize == self.last.load(Relaxed) {
            self.next.store(ptr as usize, Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if old >= BIG && new_size >= BIG {
            // SAFETY: a big block is a whole mapping of these pages.
            return unsafe { sys::remap(ptr, pages(old), pages(new_size)) }
                .unwrap_or(ptr::null_mut());
        }
        let start = ptr as usize;
        if old < BIG
            && new_size < BIG
            && start == self.last.load(Relaxed)
            && start + new_size <= self.end.load(Relaxed)
        {
            self.next.store(start + new_size, Relaxed);
            return ptr;
        }
        // SAFETY: the new layout has the old alignment and a non-zero size.
        let new =
            unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller size and do not overlap.
            unsafe {
                ptr::copy_nonoverlapping(ptr, new, old.min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_distinct_and_keep_their_bytes_when_they_grow() {
        let a = Bump::new();
        // SAFETY: layouts are non-zero; every block is used within its size.
        unsafe {
            let l8 = Layout::from_size_align(24, 8).unwrap();
            let p = a.alloc(l8);
            let q = a.alloc(Layout::from_size_align(100, 64).unwrap());
            assert_eq!(q as usize % 64, 0);
            assert!(q as usize >= p as usize + 24);
            // The newest block grows in place.
            ptr::write_bytes(q, 7, 100);
            let q2 = a.realloc(q, Layout::from_size_align(100, 64).unwrap(), 1000);
            assert_eq!(q2, q);
            // An older one moves, keeping its bytes.
            ptr::write_bytes(p, 9, 24);
            let p2 = a.realloc(p, l8, 48);
            assert_ne!(p2, p);
            assert_eq!(*p2.add(23), 9);
            // Small to big to bigger to small.
            let big = a.realloc(p2, Layout::from_size_align(48, 8).unwrap(), 5 * BIG);
            assert_eq!(*big.add(23), 9);
            *big.add(5 * BIG - 1) = 1;
            let bigger = a.realloc(big, Layout::from_size_align(5 * BIG, 8).unwrap(), 300 * BIG);
            assert_eq!((*bigger.add(23), *bigger.add(5 * BIG - 1)), (9, 1));
            let small = a.realloc(bigger, Layout::from_size_align(300 * BIG, 8).unwrap(), 30);
            assert_eq!(*small.add(23), 9);
            // Past a chunk's end: a new chunk.
            let many: alloc::vec::Vec<usize> = (0..100)
                .map(|_| a.alloc(Layout::from_size_align(BIG - 1, 8).unwrap()) as usize)
                .collect();
            assert!(many.iter().all(|&p| p != 0 && p % 8 == 0));
            let mut sorted = many;
            sorted.sort_unstable();
            assert!(sorted.windows(2).all(|w| w[1] - w[0] >= BIG - 1));
        }
    }
}
