//! The component's heap: a bump arena, then a fallback allocator.
//!
//! With a fresh instance per request, the guest's memory is thrown away when
//! the request ends, so freeing costs more than it saves: under callgrind,
//! wasi-libc's dlmalloc (behind three wrappers) was the largest part of the
//! guest's instructions on a small file (the figures: docs/performance.md).
//! Here an allocation is a pointer bump in a static array (in the instance's
//! initial memory, so it never grows the memory) and a free is a no-op, except
//! for the most recent allocation, which is rolled back or resized in place
//! (a growing `Vec` or `String`). When the arena is used up — a request with
//! many allocations, or an instance serving many requests with
//! `--reuse-instances` — allocations go to the fallback, which frees as usual.
//!
//! wasi-libc must never be handed an arena block: Rust's `cabi_realloc`
//! allocates through the global allocator, so the strings and lists the host
//! passes in may live in the arena, and wasi-libc frees some it receives with
//! its own `free` (the preopens, the environment, directory entries), which
//! would give dlmalloc a pointer it never issued. `global_arena!` therefore
//! also defines `__wrap_free` and `__wrap_realloc`, and the crate's build
//! script links the component with `--wrap=free --wrap=realloc`: every `free`
//! and `realloc` in the component, wasi-libc's own and Rust's `System`'s,
//! passes through them, and a block in the arena never reaches dlmalloc.
//! Without the link flags the component does not link (`__real_free` is
//! undefined), so the rule cannot be lost quietly; `tests/guest_heap.rs`
//! drives those libc paths in a test guest built the same way.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::{Cell, UnsafeCell};
use std::mem::MaybeUninit;

pub struct Arena<const SIZE: usize, Fallback> {
    bytes: UnsafeCell<[MaybeUninit<u8>; SIZE]>,
    /// Bytes handed out from the start of `bytes`.
    used: Cell<usize>,
    fallback: Fallback,
}

// SAFETY: an `Arena` is only shared as the global allocator of a wasm
// component, which has a single thread.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl<const SIZE: usize, Fallback: Sync> Sync for Arena<SIZE, Fallback> {}

impl<const SIZE: usize, Fallback> Arena<SIZE, Fallback> {
    pub const fn new(fallback: Fallback) -> Self {
        Arena {
            bytes: UnsafeCell::new([MaybeUninit::uninit(); SIZE]),
            used: Cell::new(0),
            fallback,
        }
    }

    fn base(&self) -> *mut u8 {
        self.bytes.get().cast()
    }

    /// Where `ptr` is in the arena, if it is.
    fn offset_of(&self, ptr: *mut u8) -> Option<usize> {
        let offset = (ptr as usize).wrapping_sub(self.base() as usize);
        (offset < SIZE).then_some(offset)
    }

    /// Whether `ptr` points into the arena.
    pub fn contains(&self, ptr: *const u8) -> bool {
        self.offset_of(ptr.cast_mut()).is_some()
    }

    /// The bytes from `ptr` to the arena's end, if `ptr` is in the arena:
    /// as much as a block that starts there can hold.
    pub fn room_after(&self, ptr: *const u8) -> Option<usize> {
        self.offset_of(ptr.cast_mut()).map(|offset| SIZE - offset)
    }

    /// Room for `layout` after what is used, as an offset.
    fn fit(&self, layout: Layout) -> Option<usize> {
        let base = self.base() as usize;
        let start = base.checked_add(self.used.get())?;
        let aligned = start.checked_next_multiple_of(layout.align())? - base;
        let end = aligned.checked_add(layout.size())?;
        (end <= SIZE).then_some(aligned)
    }
}

// SAFETY: blocks never overlap (the arena only moves `used` back over the
// most recent block when that block is freed or resized), are aligned as
// asked (`fit`), and a pointer outside the arena is always the fallback's.
unsafe impl<const SIZE: usize, Fallback: GlobalAlloc> GlobalAlloc for Arena<SIZE, Fallback> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.fit(layout) {
            Some(offset) => {
                self.used.set(offset + layout.size());
                // SAFETY: `fit` keeps `offset + size` within the array.
                unsafe { self.base().add(offset) }
            }
            // SAFETY: the caller's contract, passed on.
            None => unsafe { self.fallback.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match self.offset_of(ptr) {
            Some(offset) => {
                if offset + layout.size() == self.used.get() {
                    self.used.set(offset);
                }
            }
            // SAFETY: `ptr` came from the fallback.
            None => unsafe { self.fallback.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(offset) = self.offset_of(ptr) else {
            // SAFETY: `ptr` came from the fallback, which may resize in place.
            return unsafe { self.fallback.realloc(ptr, layout, new_size) };
        };
        let is_last = offset + layout.size() == self.used.get();
        if is_last && offset.checked_add(new_size).is_some_and(|end| end <= SIZE) {
            self.used.set(offset + new_size);
            return ptr;
        }
        // A block that shrinks keeps its place (its tail stays unused).
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: the caller's contract for `realloc` covers moving the block:
        // allocate (in the arena or the fallback), copy, free.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size());
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

/// Declares `$name`, an `Arena<$size, System>`, as the global allocator,
/// and (in the component) the `free` and `realloc` wrappers that keep arena
/// blocks away from wasi-libc's allocator (see the module's documentation).
#[macro_export]
macro_rules! global_arena {
    ($name:ident, $size:expr) => {
        #[global_allocator]
        static $name: $crate::arena::Arena<{ $size }, std::alloc::System> =
            $crate::arena::Arena::new(std::alloc::System);

        #[cfg(target_os = "wasi")]
        mod libc_allocator_wrappers {
            unsafe extern "C" {
                fn __real_free(ptr: *mut u8);
                fn __real_realloc(ptr: *mut u8, size: usize) -> *mut u8;
                fn malloc(size: usize) -> *mut u8;
            }

            /// An arena block is given back with the instance; anything
            /// else is dlmalloc's.
            #[unsafe(no_mangle)]
            unsafe extern "C" fn __wrap_free(ptr: *mut u8) {
                if !super::$name.contains(ptr) {
                    // SAFETY: not an arena block, so one of malloc's (or null).
                    unsafe { __real_free(ptr) }
                }
            }

            /// An arena block moves to malloc: its size is unknown here, so
            /// copy what fits both the new block and the arena (bytes past
            /// the old block's end are copied but never read as data).
            #[unsafe(no_mangle)]
            unsafe extern "C" fn __wrap_realloc(ptr: *mut u8, size: usize) -> *mut u8 {
                match super::$name.room_after(ptr) {
                    // SAFETY: not an arena block, so one of malloc's (or null).
                    None => unsafe { __real_realloc(ptr, size) },
                    Some(room) => {
                        // SAFETY: `room` bytes from `ptr` are inside the arena,
                        // and the new block holds `size`.
                        unsafe {
                            let new = malloc(size);
                            if !new.is_null() {
                                std::ptr::copy_nonoverlapping(ptr, new, size.min(room));
                            }
                            new
                        }
                    }
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    fn in_arena<const N: usize>(arena: &Arena<N, System>, ptr: *mut u8) -> bool {
        arena.contains(ptr)
    }

    #[test]
    fn room_after_is_what_is_left_of_the_arena() {
        let arena = Arena::<1024, System>::new(System);
        unsafe {
            let a = arena.alloc(layout(100, 1));
            assert_eq!(arena.room_after(a), Some(1024));
            assert_eq!(arena.room_after(a.add(1000)), Some(24));
            assert_eq!(arena.room_after(a.add(1024)), None);
            assert_eq!(arena.room_after(std::ptr::null()), None);
        }
    }

    #[test]
    fn blocks_are_aligned_and_do_not_overlap() {
        let arena = Arena::<1024, System>::new(System);
        unsafe {
            let a = arena.alloc(layout(3, 1));
            let b = arena.alloc(layout(8, 8));
            let c = arena.alloc(layout(16, 16));
            assert_eq!(b as usize % 8, 0);
            assert_eq!(c as usize % 16, 0);
            assert!(a as usize + 3 <= b as usize);
            assert!(b as usize + 8 <= c as usize);
            assert!([a, b, c].iter().all(|&p| in_arena(&arena, p)));
        }
    }

    #[test]
    fn the_last_block_is_given_back_and_earlier_ones_are_not() {
        let arena = Arena::<1024, System>::new(System);
        unsafe {
            let a = arena.alloc(layout(100, 1));
            let b = arena.alloc(layout(100, 1));
            arena.dealloc(a, layout(100, 1));
            assert_eq!(arena.used.get(), 200, "a is not the last block");
            arena.dealloc(b, layout(100, 1));
            assert_eq!(arena.used.get(), 100);
            assert_eq!(arena.alloc(layout(100, 1)), b, "b's room is reused");
        }
    }

    #[test]
    fn the_last_block_grows_in_place_and_others_move() {
        let arena = Arena::<1024, System>::new(System);
        unsafe {
            let a = arena.alloc(layout(4, 1));
            a.copy_from(b"abcd".as_ptr(), 4);
            let grown = arena.realloc(a, layout(4, 1), 64);
            assert_eq!(grown, a);
            assert_eq!(arena.used.get(), 64);
            let b = arena.alloc(layout(4, 1));
            let moved = arena.realloc(grown, layout(64, 1), 128);
            assert_ne!(moved, grown);
            assert!(moved as usize > b as usize);
            assert_eq!(std::slice::from_raw_parts(moved, 4), b"abcd");
            assert_eq!(arena.realloc(b, layout(4, 1), 2), b, "shrinks in place");
        }
    }

    #[test]
    fn what_does_not_fit_goes_to_the_fallback_and_comes_back_to_it() {
        let arena = Arena::<256, System>::new(System);
        unsafe {
            let small = arena.alloc(layout(200, 8));
            assert!(in_arena(&arena, small));
            let big = arena.alloc(layout(100, 8));
            assert!(!big.is_null() && !in_arena(&arena, big));
            big.write_bytes(7, 100);
            arena.dealloc(big, layout(100, 8));
            assert_eq!(
                arena.used.get(),
                200,
                "the fallback's free leaves the arena alone"
            );

            // A block in the arena that outgrows it moves to the fallback.
            let moved = arena.realloc(small, layout(200, 8), 4096);
            assert!(!in_arena(&arena, moved));
            arena.dealloc(moved, layout(4096, 8));
            assert_eq!(arena.used.get(), 0);
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_even_where_a_freed_block_was() {
        let arena = Arena::<1024, System>::new(System);
        unsafe {
            let a = arena.alloc(layout(64, 1));
            a.write_bytes(0xff, 64);
            arena.dealloc(a, layout(64, 1));
            let b = arena.alloc_zeroed(layout(64, 1));
            assert_eq!(b, a);
            assert!(std::slice::from_raw_parts(b, 64).iter().all(|&x| x == 0));
        }
    }
}
