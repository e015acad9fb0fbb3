//! The normalized state of a vendor task.

use std::fmt;

/// The normalized state of a vendor task. See the crate docs for the vendor-value table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskStatus {
    /// Accepted, not started.
    Queued,
    /// Being worked on.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished without a result.
    Failed,
    /// A value neither vendor documents; kept verbatim, treated as not terminal.
    Unknown(String),
}

impl TaskStatus {
    /// `Succeeded` and `Failed` end a task; everything else (including `Unknown`) does not.
    pub fn is_terminal(&self) -> bool {
        matches!(self, TaskStatus::Succeeded | TaskStatus::Failed)
    }

    /// A short lowercase label (`Unknown` shows the raw vendor value).
    pub fn as_str(&self) -> &str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Unknown(raw) => raw,
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskStatus::Unknown(raw) => write!(f, "unknown({raw})"),
            other => f.write_str(other.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn terminal_statuses() {
        assert!(TaskStatus::Succeeded.is_terminal());
        assert!(TaskStatus::Failed.is_terminal());
        assert!(!TaskStatus::Queued.is_terminal());
        assert!(!TaskStatus::Running.is_terminal());
        assert!(!TaskStatus::Unknown("archived".into()).is_terminal());
        assert_eq!(TaskStatus::Unknown("x".into()).to_string(), "unknown(x)");
    }
}
