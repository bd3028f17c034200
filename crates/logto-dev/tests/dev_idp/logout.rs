//! logout tests.
