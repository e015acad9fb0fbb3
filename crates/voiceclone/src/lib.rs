//! Adapter (under construction).
