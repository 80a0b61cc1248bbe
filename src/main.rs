//! The `tearsheet` binary: everything lives in the library.

fn main() -> anyhow::Result<()> {
    tearsheet::cli::main()
}
