//! The process's allocator: mimalloc, told to keep freed memory for reuse, wrapped to count the
//! bytes in use so benchmarks can report a peak. A forward pass allocates and frees tensors
//! of tens of MB in every layer; returning them to the OS costs a page fault per 4 KiB on the
//! next pass (≈10 % of a pass with glibc or mimalloc's defaults).

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};
use mimalloc::MiMalloc;
use tessera_core::heap::CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator<MiMalloc> = CountingAllocator(MiMalloc);

/// `mi_option_purge_delay`'s value in the `mi_option_e` of the mimalloc v3 that libmimalloc-sys
/// builds; libmimalloc-sys has no constant for it (its own list is out of date).
const PURGE_DELAY: mi_option_t = 15;
/// The purge delay's default (ms) in that mimalloc (its `options.c`); reading it back checks
/// that `PURGE_DELAY` names that option.
const DEFAULT_PURGE_DELAY: std::ffi::c_long = 1000;

/// Never return freed memory to the OS (what PyTorch's caching allocator does too).
pub fn keep_freed_memory() {
    // SAFETY: mimalloc's option calls have no preconditions. Only a value that reads as the
    // purge delay's default is changed, so a reordered enum leaves other options alone.
    unsafe {
        if mi_option_get(PURGE_DELAY) == DEFAULT_PURGE_DELAY {
            mi_option_set(PURGE_DELAY, -1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_memory_is_kept() {
        keep_freed_memory();
        // SAFETY: reading an option has no preconditions.
        assert_eq!(
            unsafe { mi_option_get(PURGE_DELAY) },
            -1,
            "purge delay not set"
        );
    }

    #[test]
    fn peak_counts_live_allocations() {
        use tessera_core::heap::{peak_bytes, reset_peak};
        // Other tests allocate and free on their own threads meanwhile, so only bounds that
        // hold whatever they do are asserted: while the block lives at least its bytes are
        // in use, and no other test here holds anything near 64 MiB.
        const BLOCK: usize = 64 << 20;
        reset_peak();
        let block = std::hint::black_box(vec![1u8; BLOCK]);
        assert!(peak_bytes() >= BLOCK, "a live block counts");
        drop(block);
        assert!(peak_bytes() >= BLOCK, "a peak survives the free");
        reset_peak();
        assert!(peak_bytes() < BLOCK, "a reset starts from the bytes in use");
    }
}
