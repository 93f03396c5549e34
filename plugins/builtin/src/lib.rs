//! Built-in DM8 collectors.
#![forbid(unsafe_code)]
