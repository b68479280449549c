//! Progress of a long command, reported to whoever listens: the library never prints, so the
//! build, mirror and site stages call a [`Progress`] that the command line draws on a terminal.

/// Receives progress; the library never prints.
pub trait Progress: Sync {
    fn stage(&self, name: &str, done: usize, total: usize);
}

/// Progress that goes nowhere.
pub struct Silent;

impl Progress for Silent {
    fn stage(&self, _: &str, _: usize, _: usize) {}
}
