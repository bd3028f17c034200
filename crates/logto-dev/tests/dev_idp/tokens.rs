//! tokens tests.
