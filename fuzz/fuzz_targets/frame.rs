//! Frame decoding: the first byte picks the maximum length and read size, the rest is the
//! stream. Besides the shared invariants, a counting allocator checks that reading a frame
//! never allocates more than the maximum, whatever length the header announces.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use hook_protocol::{read_frame, tokio_io};
use hookd_fuzz::invariants::{check_frame, frame_params};
use libfuzzer_sys::fuzz_target;

/// The system allocator, noting the largest single allocation while `WATCH` is set.
struct Counting;

static WATCH: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn note(size: usize) {
    if WATCH.load(Ordering::Relaxed) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The largest allocation made by `f`.
fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.store(0, Ordering::Relaxed);
    WATCH.store(true, Ordering::Relaxed);
    f();
    WATCH.store(false, Ordering::Relaxed);
    LARGEST.load(Ordering::Relaxed)
}

fuzz_target!(|data: &[u8]| {
    if let Some((&sel, stream)) = data.split_first() {
        let (max, _) = frame_params(sel);
        let sync = largest_allocation(|| {
            let _ = read_frame(&mut &stream[..], max);
        });
        assert!(
            sync <= max as usize,
            "read_frame allocated {sync} bytes, max {max}"
        );
        let asynchronous = largest_allocation(|| {
            let mut reader = stream;
            let mut fut = std::pin::pin!(tokio_io::read_frame(&mut reader, max));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(fut.as_mut().poll(&mut cx).is_ready());
        });
        assert!(
            asynchronous <= max as usize,
            "tokio_io::read_frame allocated {asynchronous} bytes, max {max}"
        );
    }
    check_frame(data);
});
