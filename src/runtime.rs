//! What `std` would otherwise provide to the shipped `.wasm`: an allocator
//! and a panic handler.
//!
//! A panic traps (the `unreachable` instruction), like std's `panic =
//! "abort"` does, but without the message formatting std links in. The code
//! is written so no panic is reachable from JavaScript; if one happens
//! anyway, the trap surfaces in the JS web layer, which settles every caller
//! with a CoordinatorFaultError.

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
