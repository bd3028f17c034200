//! Newtypes for the protocol's identifiers: [`OrganizationId`] and
//! [`ResourceIndicator`].
//!
//! Both serialize as the plain string they wrap, so claims, storage keys and
//! anything stored keep their format.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::ConfigError;

#[cfg(test)]
mod tests;

/// Implements the string-like traits shared by both newtypes.
macro_rules! string_newtype {
    ($name:ident, $example:literal) => {
        impl $name {
            /// The identifier as sent on the wire.
            ///
            /// ```
            #[doc = concat!("let id = logto_client::", stringify!($name), "::try_from(", stringify!($example), ")?;")]
            #[doc = concat!("assert_eq!(id.as_str(), ", stringify!($example), ");")]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The identifier, owned.
            ///
            /// ```
            #[doc = concat!("let id = logto_client::", stringify!($name), "::try_from(", stringify!($example), ")?;")]
            /// let owned: String = id.into_string();
            #[doc = concat!("assert_eq!(owned, ", stringify!($example), ");")]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Lets a `HashMap` or `BTreeMap` keyed by it be looked up with a `&str`.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

/// A Logto organization id (`organization_id`, the `organizations` claim, the
/// `urn:logto:organization:{id}` audience of an organization token).
///
/// Organization ids are opaque: any string converts into one, so calls stay as
/// short as the Python SDK's `get_organization_token("org-id")`. An empty one
/// means no organization; the client refuses it where a token is asked for
/// ([`ConfigError::EmptyOrganizationId`]). It serializes as the plain string.
///
/// ```
/// use logto_client::OrganizationId;
///
/// let id = OrganizationId::from("org-acme");
/// assert_eq!(id, "org-acme");
/// assert_eq!(id.as_str(), "org-acme");
/// assert_eq!(id.to_string(), "org-acme");
/// assert_eq!(serde_json::to_string(&id)?, r#""org-acme""#);
/// assert_eq!(serde_json::from_str::<OrganizationId>(r#""org-acme""#)?, id);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrganizationId(String);

string_newtype!(OrganizationId, "org-acme");

impl OrganizationId {
    /// An organization id.
    ///
    /// ```
    /// use logto_client::OrganizationId;
    ///
    /// assert_eq!(OrganizationId::new(String::from("org-acme")), "org-acme");
    /// ```
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// Whether the id is empty (no organization).
    ///
    /// ```
    /// use logto_client::OrganizationId;
    ///
    /// assert!(OrganizationId::from("").is_empty());
    /// assert!(!OrganizationId::from("org-acme").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for OrganizationId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl From<&str> for OrganizationId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl From<&String> for OrganizationId {
    fn from(id: &String) -> Self {
        Self(id.clone())
    }
}

/// So a method taking `impl Into<OrganizationId>` also takes a borrowed one.
impl From<&OrganizationId> for OrganizationId {
    fn from(id: &OrganizationId) -> Self {
        id.clone()
    }
}

/// An API resource indicator (RFC 8707): an absolute URI without a fragment,
/// such as `https://api.example.com`. Logto uses it as the access token's
/// audience.
///
/// Made from a string only through [`ResourceIndicator::parse`] (or
/// [`FromStr`], [`TryFrom`], deserialization), which refuses anything else with
/// [`ConfigError::InvalidResourceIndicator`]. The string is kept exactly as
/// given (no normalization: it is compared with the token's `aud` byte for
/// byte), and serializes as that plain string.
///
/// ```
/// use logto_client::{ConfigError, ResourceIndicator};
///
/// let api: ResourceIndicator = "https://api.example.com".parse()?;
/// assert_eq!(api, "https://api.example.com");
/// assert_eq!(serde_json::to_string(&api).unwrap(), r#""https://api.example.com""#);
///
/// let err = ResourceIndicator::parse("https://api.example.com#part").unwrap_err();
/// assert!(matches!(
///     err,
///     ConfigError::InvalidResourceIndicator { ref resource, .. }
///         if resource == "https://api.example.com#part"
/// ));
/// assert!(ResourceIndicator::parse("/api").is_err());
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceIndicator(#[serde(deserialize_with = "de_resource")] String);

string_newtype!(ResourceIndicator, "https://api.example.com");

fn de_resource<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    ResourceIndicator::parse(s)
        .map(ResourceIndicator::into_string)
        .map_err(serde::de::Error::custom)
}

impl ResourceIndicator {
    /// Parses a resource indicator: an absolute URI (a scheme, such as
    /// `https:` or `urn:`), without a fragment, whitespace or control
    /// characters (RFC 8707 §2). Anything else is refused with
    /// [`ConfigError::InvalidResourceIndicator`], which names the value.
    ///
    /// ```
    /// use logto_client::{ConfigError, ResourceIndicator};
    ///
    /// assert!(ResourceIndicator::parse("https://api.example.com").is_ok());
    /// assert!(ResourceIndicator::parse("urn:logto:resource:organizations").is_ok());
    /// for bad in ["api.example.com", "/api", "https://api.example.com#x", " https://a.b", ""] {
    ///     let err = ResourceIndicator::parse(bad).unwrap_err();
    ///     assert!(matches!(err, ConfigError::InvalidResourceIndicator { .. }), "{bad}");
    ///     assert!(err.to_string().contains(&format!("{bad:?}")));
    /// }
    /// ```
    pub fn parse(resource: impl Into<String>) -> Result<Self, ConfigError> {
        let resource = resource.into();
        let reason = match Url::parse(&resource) {
            _ if resource
                .chars()
                .any(|c| c.is_whitespace() || c.is_control()) =>
            {
                Some("it contains whitespace or control characters".to_owned())
            }
            Err(e) => Some(format!("not an absolute URI ({e})")),
            Ok(url) if url.fragment().is_some() => Some("it has a fragment".to_owned()),
            Ok(_) => None,
        };
        match reason {
            Some(reason) => Err(ConfigError::InvalidResourceIndicator { resource, reason }),
            None => Ok(Self(resource)),
        }
    }
}

impl ResourceIndicator {
    /// One of the crate's constant, known-valid indicators.
    pub(crate) fn reserved(indicator: &'static str) -> Self {
        Self(indicator.to_owned())
    }
}

impl FromStr for ResourceIndicator {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for ResourceIndicator {
    type Error = ConfigError;
    fn try_from(s: &str) -> Result<Self, ConfigError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ResourceIndicator {
    type Error = ConfigError;
    fn try_from(s: String) -> Result<Self, ConfigError> {
        Self::parse(s)
    }
}
