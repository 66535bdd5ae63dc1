//! Reading a file under the data directory without leaving it: no component below the root may
//! be a symlink (each ancestor is checked, the file itself opened with `O_NOFOLLOW`), and only
//! plain files are objects. Whatever the file system says a path cannot be (a name too long, a
//! path through a file, a symlink) is simply not an object: a miss, not a storage failure.

use std::fs::{File, Metadata};
use std::io::{self, ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path};

/// Whether `error` says there is no file at a path, as opposed to the disk failing.
pub fn is_missing(error: &io::Error) -> bool {
    error.kind() == ErrorKind::NotFound
        || matches!(
            error.raw_os_error(),
            Some(libc::ENOTDIR | libc::ENAMETOOLONG | libc::ELOOP)
        )
}

/// `Ok(None)` for a miss, `Err` only for a real failure.
fn missing_as_none<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether every directory between `root` and `relative`'s last component is a real
/// directory (not a symlink, not a file). `Ok(false)` when one is missing.
fn ancestors_are_directories(root: &Path, relative: &Path) -> io::Result<bool> {
    let mut path = root.to_path_buf();
    let mut components = relative.components().peekable();
    while let Some(component) = components.next() {
        if components.peek().is_none() {
            break;
        }
        let Component::Normal(name) = component else {
            return Ok(false);
        };
        path.push(name);
        match missing_as_none(std::fs::symlink_metadata(&path))? {
            Some(metadata) if metadata.file_type().is_dir() => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}

/// The plain file at `root/relative`, open, with its metadata; `None` when there is none or
/// the path goes through a symlink.
pub fn open_plain_file(root: &Path, relative: &Path) -> io::Result<Option<(File, Metadata)>> {
    if !ancestors_are_directories(root, relative)? {
        return Ok(None);
    }
    let opened = std::fs::OpenOptions::new()
        .read(true)
        // O_NONBLOCK: a FIFO planted at a key must not hang the open; plain files ignore it.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(root.join(relative));
    let Some(file) = missing_as_none(opened)? else {
        return Ok(None);
    };
    let metadata = file.metadata()?;
    Ok(metadata.is_file().then_some((file, metadata)))
}

/// The whole content of the plain file at `root/relative`, with its metadata (taken from the
/// same open file, so both describe one file); `None` as for [`open_plain_file`].
pub fn read_plain_file(root: &Path, relative: &Path) -> io::Result<Option<(Vec<u8>, Metadata)>> {
    let Some((mut file, metadata)) = open_plain_file(root, relative)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok(Some((bytes, metadata)))
}

/// The metadata of the plain file at `root/relative`, read without opening it; `None` as for
/// [`open_plain_file`].
pub fn plain_file_metadata(root: &Path, relative: &Path) -> io::Result<Option<Metadata>> {
    if !ancestors_are_directories(root, relative)? {
        return Ok(None);
    }
    let metadata = missing_as_none(std::fs::symlink_metadata(root.join(relative)))?;
    Ok(metadata.filter(Metadata::is_file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_the_file_system_refuses_are_misses_and_failures_are_not() {
        for errno in [libc::ENOENT, libc::ENOTDIR, libc::ENAMETOOLONG, libc::ELOOP] {
            assert!(is_missing(&io::Error::from_raw_os_error(errno)), "{errno}");
        }
        for errno in [libc::EIO, libc::EACCES, libc::ENOSPC, libc::EMFILE] {
            assert!(!is_missing(&io::Error::from_raw_os_error(errno)), "{errno}");
        }
    }

    #[test]
    fn symlinks_below_the_root_are_not_followed_but_the_root_may_be_one() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir_all(real.join("a")).unwrap();
        std::fs::write(real.join("a/x.jpg"), b"x").unwrap();
        std::os::unix::fs::symlink(real.join("a"), real.join("linked")).unwrap();
        std::os::unix::fs::symlink(real.join("a/x.jpg"), real.join("a/y.jpg")).unwrap();
        let root_link = dir.path().join("root-link");
        std::os::unix::fs::symlink(&real, &root_link).unwrap();
        for root in [real.as_path(), root_link.as_path()] {
            assert!(
                open_plain_file(root, Path::new("a/x.jpg"))
                    .unwrap()
                    .is_some()
            );
            assert!(
                plain_file_metadata(root, Path::new("a/x.jpg"))
                    .unwrap()
                    .is_some()
            );
            for relative in ["linked/x.jpg", "a/y.jpg", "a", "a/x.jpg/z", "missing/x"] {
                let relative = Path::new(relative);
                assert!(
                    open_plain_file(root, relative).unwrap().is_none(),
                    "{relative:?}"
                );
                assert!(
                    plain_file_metadata(root, relative).unwrap().is_none(),
                    "{relative:?}"
                );
            }
        }
    }
}
