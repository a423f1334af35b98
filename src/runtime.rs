//! What `std` would otherwise provide to the shipped `.wasm`: an allocator
//! and a panic handler.
//!
//! A panic traps (the `unreachable` instruction), like std's `panic =
//! "abort"` does, but without the message formatting std links in. The code
//! is written so no panic is reachable from JavaScript; if one happens
//! anyway, the trap surfaces in the JS web layer, which settles every caller
//! with a CoordinatorFaultError.

use talc::cell::TalcSyncCell;
use talc::wasm::{WasmBinning, WasmGrowAndClaim};

// Talc grows the linear memory as needed, like dlmalloc, in less code: the
// module is single-threaded (no atomics). Each growth is claimed as a heap
// of its own rather than extending the last one (Talc's smaller source; the
// core's few small collections do not mind the fragmentation).
#[global_allocator]
static ALLOCATOR: TalcSyncCell<WasmGrowAndClaim, WasmBinning> =
    TalcSyncCell::new_wasm(WasmGrowAndClaim);

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
