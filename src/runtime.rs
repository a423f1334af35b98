//! What `std` would otherwise provide to the shipped `.wasm`: an allocator
//! and a panic handler.
//!
//! A panic traps (the `unreachable` instruction), like std's `panic =
//! "abort"` does, but without the message formatting std links in. The code
//! is written so no panic is reachable from JavaScript; if one happens
//! anyway, the trap surfaces in the JS web layer, which settles every caller
//! with a CoordinatorFaultError.

// Talc's dynamic wasm allocator grows the linear memory as needed, like
// dlmalloc, in less code: the module is single-threaded (no atomics).
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
