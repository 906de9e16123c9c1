//! Secrets embedded mode keeps in its data directory when the configuration has none:
//! created once (readable by the owner only) and reused by every later process, so that
//! sealed identities stay readable and `paht token` mints tokens the server accepts.
//! Suite mode never generates secrets: replicas must share the configured ones.

use std::path::{Path, PathBuf};

/// A local secret could not be read or created.
#[derive(Debug, thiserror::Error)]
#[error("{action} {}: {source}", .path.display())]
pub struct SecretError {
    action: &'static str,
    path: PathBuf,
    source: std::io::Error,
}

fn at<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> SecretError + 'p {
    move |source| SecretError { action, path: path.to_owned(), source }
}

/// The secret stored in `{data_dir}/{name}`, created with `generate` on first use.
pub fn local_secret(data_dir: &Path, name: &str, generate: impl FnOnce() -> String) -> Result<String, SecretError> {
    let path = data_dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(secret) => Ok(secret.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_private_dir(data_dir)?;
            let secret = generate();
            write_private(&path, &secret)?;
            Ok(secret)
        }
        Err(e) => Err(at("reading", &path)(e)),
    }
}

/// The data directory, readable by its owner only when this creates it.
fn create_private_dir(dir: &Path) -> Result<(), SecretError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(at("creating", dir))
}

fn write_private(path: &Path, secret: &str) -> Result<(), SecretError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(at("creating", path))?;
    file.write_all(secret.as_bytes()).map_err(at("writing", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_reused() {
        let dir = std::env::temp_dir().join(format!("paht-secret-{}", uuid::Uuid::new_v4().simple()));
        let first = local_secret(&dir, "k", || "one".into()).unwrap();
        let second = local_secret(&dir, "k", || "two".into()).unwrap();
        assert_eq!((first.as_str(), second.as_str()), ("one", "one"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("k")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by the owner only");
            let dir_mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(dir_mode & 0o077, 0, "the data directory it created is the owner's only");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
