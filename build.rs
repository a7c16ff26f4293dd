//! Links the component so that every `free` and `realloc` in it, wasi-libc's
//! included, goes through the arena's wrappers first (`arena::global_arena!`).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("wasi") {
        println!("cargo:rustc-link-arg-cdylib=--wrap=free");
        println!("cargo:rustc-link-arg-cdylib=--wrap=realloc");
    }
}
