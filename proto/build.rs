//! Compiles `paht/v1/*.proto` with protox (pure Rust, no `protoc`), writes the encoded
//! descriptor set for gRPC reflection, and generates the prost messages and tonic services.

use std::error::Error;
use std::path::{Path, PathBuf};

use prost::Message as _;

/// Directory of the proto package, relative to the crate root (also the import root).
const PROTO_PACKAGE_DIR: &str = "paht/v1";

/// File name of the encoded descriptor set in `OUT_DIR`; `lib.rs` includes it.
const DESCRIPTOR_FILE: &str = "paht_v1_descriptor.bin";

fn main() -> Result<(), Box<dyn Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    // Watch the directory so that an added or removed file also triggers a rebuild.
    println!("cargo:rerun-if-changed=paht");
    println!("cargo:rerun-if-changed=build.rs");

    let files = proto_files(&root.join(PROTO_PACKAGE_DIR))?;
    let fds = protox::compile(&files, [&root]).map_err(|error| {
        // miette's Debug rendering names the file, line and column of a syntax error.
        format!("cannot compile the .proto files: {error:?}")
    })?;

    std::fs::write(out_dir.join(DESCRIPTOR_FILE), fds.encode_to_vec())?;

    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(fds)?;
    Ok(())
}

/// The `.proto` files of the package, sorted so that the output does not depend on directory order.
fn proto_files(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "proto") {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(format!("no .proto files in {}", dir.display()).into());
    }
    Ok(files)
}
