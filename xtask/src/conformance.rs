//! Placeholder replaced below.
use crate::Result;
use std::path::Path;
pub fn run(_root: &Path, _vendor: &Path) -> Result<()> {
    crate::err("not yet")
}
