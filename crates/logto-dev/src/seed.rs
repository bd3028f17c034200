//! The seed logto-dev serves: the shared `logto-seed` crate (also read by the portal's
//! provisioning command), re-exported so that `logto_dev::Seed` stays the entry point.

pub use logto_seed::*;
