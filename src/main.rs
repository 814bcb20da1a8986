//! The `gatehouse` binary: everything lives in the library; see `gatehouse::cli`. The global allocator is
//! mimalloc: the gateway allocates small, short-lived objects on every request, and glibc's malloc showed up as
//! ~10 % of a proxied request's CPU in profiles (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gatehouse::cli::main()
}
