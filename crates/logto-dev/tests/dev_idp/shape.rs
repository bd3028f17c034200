//! shape tests.
