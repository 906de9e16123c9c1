//! Abuse limits on submissions and uploads (R19, R21.2): who a request counts against, and the
//! sliding-window check in the shared cache.
//!
//! # Who a request counts against
//! - **Sender.** A relaying caller (role `system`: channel adapters and the portal backend;
//!   `ioc_operator`: hotline calls typed in) names the sender in `origin.sender_id` (Zalo or
//!   Facebook user id, e-mail address, app account, portal session), counted per channel. Without
//!   it, and always for a `reporter` calling with their own account, the token's subject is the
//!   sender. A relay that forgets `origin` is thus limited as one sender: it fails loudly rather
//!   than letting floods through, and a warning names the relay's subject.
//! - **Address.** A relay names the client address in `origin.client_address`; without it, the
//!   address of the gRPC peer counts. IPv6 addresses count per /64 network (one subscriber's
//!   allocation), a port is dropped, and an IPv4-mapped IPv6 address counts as the IPv4 one. With
//!   no address at all (an in-process call), submissions have only the sender limit, and uploads
//!   count against the sender instead.
//!   The same holds for an operator: the console passes the caller's number as `sender_id`.
//! - A `reporter` may not set `origin`: a citizen naming another sender would escape the limits.
//!
//! # When a request counts
//! After the idempotency check, so a retry of an accepted report gets its receipt for free; before
//! validation, so a flood of invalid requests is limited too. The sender is counted first: a
//! request the sender limit refuses does not count against its address. Uploads count once their
//! header arrived, before any byte is stored. A limit with `max = 0` (or a zero window) is off.
//!
//! Keys hold a keyed hash (HMAC-SHA256 with the phone pepper) of the sender or address, never
//! the value itself. A cache outage lets requests through (with a warning): receiving reports
//! around the clock (R5) outweighs a short window without limits.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use paht_domain::actor::Role;
use paht_platform::auth::AuthContext;
use paht_proto::v1;

use super::IntakeService;
use crate::config::Limit;
use crate::error::{IntakeError, LimitScope};
use crate::vault::keyed_hash;

/// Callers that relay other people's requests and so may say who sent them.
const RELAYS: &[Role] = &[Role::System, Role::IocOperator];
/// Longest accepted `origin.sender_id`, in characters.
const MAX_SENDER_CHARS: usize = 256;
/// Longest accepted `origin.client_address` that is not an IP address, in characters.
const MAX_ADDRESS_CHARS: usize = 128;

/// The rate-limit keys one request counts against; hashed, so free of personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Origin {
    /// The sender's key.
    pub sender: String,
    /// The address's key, when an address is known.
    pub address: Option<String>,
}

impl Origin {
    /// Works out who a request counts against. `field` names `origin` in the request (for
    /// violations), `channel` is the stored channel name (`""` for uploads, which carry none).
    pub fn resolve(
        auth: &AuthContext,
        given: Option<&v1::ChannelOrigin>,
        field: &str,
        channel: &str,
        peer: Option<SocketAddr>,
        pepper: &[u8],
    ) -> Result<Self, IntakeError> {
        let given = given.cloned().unwrap_or_default();
        let (sender_id, client_address) = (given.sender_id.trim(), given.client_address.trim());
        let relay = RELAYS.contains(&auth.role());
        let names_origin = !sender_id.is_empty() || !client_address.is_empty();
        if names_origin && !relay {
            return Err(IntakeError::field(
                field,
                "set only by channel adapters and the portal backend; a reporter's own calls are counted by \
                 account and connection, so leave it empty",
            ));
        }
        let sender = if sender_id.is_empty() {
            if auth.role() == Role::System {
                tracing::warn!(
                    relay = %auth.claims.sub,
                    "a relay sent no origin.sender_id; its requests count as one sender"
                );
            }
            keyed_hash("rate-limit:account", &auth.claims.sub, pepper)
        } else {
            check_text(&format!("{field}.sender_id"), sender_id, MAX_SENDER_CHARS)?;
            // E-mail addresses are compared without case, as mail systems do in practice.
            let id = if channel == "email" { sender_id.to_lowercase() } else { sender_id.to_owned() };
            keyed_hash("rate-limit:sender", &format!("{channel}\0{id}"), pepper)
        };
        let address = if client_address.is_empty() {
            peer.map(|p| address_key(p.ip()))
        } else {
            Some(parse_address(&format!("{field}.client_address"), client_address)?)
        };
        Ok(Origin { sender, address: address.map(|a| keyed_hash("rate-limit:address", &a, pepper)) })
    }

    /// The key uploads count against: the address, or the sender when no address is known.
    pub fn upload_key(&self) -> &str {
        self.address.as_deref().unwrap_or(&self.sender)
    }
}

fn check_text(field: &str, value: &str, max: usize) -> Result<(), IntakeError> {
    if value.chars().count() > max {
        return Err(IntakeError::field(field, format!("at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(IntakeError::field(field, "contains control characters; remove them"));
    }
    Ok(())
}

/// The counted form of a reported client address: an IP address (with or without a port), or an
/// opaque key of the gateway's choosing.
fn parse_address(field: &str, value: &str) -> Result<String, IntakeError> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(address_key(ip));
    }
    if let Ok(socket) = value.parse::<SocketAddr>() {
        return Ok(address_key(socket.ip()));
    }
    check_text(field, value, MAX_ADDRESS_CHARS)?;
    if value.chars().any(char::is_whitespace) {
        return Err(IntakeError::field(field, "an IP address, or a key without spaces"));
    }
    Ok(format!("key:{value}"))
}

/// One key per IPv4 address and per IPv6 /64 network.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                format!("ip:{}/64", Ipv6Addr::from(network))
            }
        },
    }
}

impl IntakeService {
    /// Counts one request against `key` under `limit`; refuses it when the window is full.
    /// `max == 0` (or a zero window) switches the limit off.
    pub(super) async fn take(&self, scope: LimitScope, key: &str, limit: Limit) -> Result<(), IntakeError> {
        if limit.max == 0 || limit.window_secs == 0 {
            return Ok(());
        }
        let window = Duration::from_secs(limit.window_secs);
        let key = format!("intake:{}:{key}", scope.as_str());
        match self.parts.cache.rate_limit(&key, limit.max, window).await {
            Ok(decision) if decision.allowed => Ok(()),
            Ok(decision) => {
                let retry_after = decision.retry_after.unwrap_or(window);
                tracing::info!(
                    scope = scope.as_str(),
                    retry_after_secs = retry_after.as_secs(),
                    "request rate-limited"
                );
                Err(scope.refusal(retry_after))
            }
            Err(err) => {
                tracing::warn!(error = %err, scope = scope.as_str(), "rate limit unavailable; request let through");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paht_domain::ids::UnitId;
    use paht_platform::auth::Claims;

    fn auth(role: Role) -> AuthContext {
        AuthContext::new(Claims {
            sub: "acct-1".into(),
            role,
            unit: UnitId::new("IOC-HCM"),
            instance: "IOC-HCM".into(),
            iss: "paht".into(),
            iat: 0,
            exp: i64::MAX,
            jti: None,
        })
    }

    fn origin(sender: &str, address: &str) -> v1::ChannelOrigin {
        v1::ChannelOrigin { sender_id: sender.into(), client_address: address.into() }
    }

    fn resolve(role: Role, given: Option<v1::ChannelOrigin>, peer: Option<&str>) -> Result<Origin, IntakeError> {
        let peer = peer.map(|p| p.parse().unwrap());
        Origin::resolve(&auth(role), given.as_ref(), "origin", "zalo", peer, b"pepper")
    }

    fn field_of(err: IntakeError) -> String {
        let IntakeError::Invalid(fields) = err else { panic!("not invalid: {err:?}") };
        fields[0].0.clone()
    }

    // R19, R21.2: keys never hold the sender or the address in clear.
    #[test]
    fn keys_are_hashed_and_separate_senders_and_addresses() {
        let a = resolve(Role::System, Some(origin("zalo-user-1", "203.0.113.7")), None).unwrap();
        for key in [&a.sender, a.address.as_ref().unwrap()] {
            assert_eq!(key.len(), 64);
            assert!(!key.contains("zalo-user-1") && !key.contains("203.0.113"), "{key}");
        }
        let b = resolve(Role::System, Some(origin("zalo-user-2", "203.0.113.7:4431")), None).unwrap();
        assert_ne!(a.sender, b.sender);
        assert_eq!(a.address, b.address, "the port does not make another address");
        // The same id on another channel is another sender.
        let email =
            Origin::resolve(&auth(Role::System), Some(&origin("zalo-user-1", "")), "origin", "email", None, b"p");
        assert_ne!(email.unwrap().sender, resolve(Role::System, Some(origin("zalo-user-1", "")), None).unwrap().sender);
    }

    // R19: one IPv6 subscriber (a /64) is one address; IPv4-mapped addresses are the IPv4 one.
    #[test]
    fn addresses_are_normalised() {
        let key = |a: &str| parse_address("f", a).unwrap();
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:198.51.100.4"), key("198.51.100.4"));
        assert_eq!(key("[2001:db8::1]:443"), key("2001:db8::5"));
        assert_eq!(key("gw-session-42"), "key:gw-session-42");
        assert_eq!(field_of(parse_address("origin.client_address", "a b").unwrap_err()), "origin.client_address");
        assert!(parse_address("f", &"x".repeat(129)).is_err());
    }

    #[test]
    fn fallbacks_are_the_account_and_the_peer() {
        let relay = resolve(Role::System, None, Some("192.0.2.1:5000")).unwrap();
        let reporter = resolve(Role::Reporter, None, Some("192.0.2.1:6000")).unwrap();
        assert_eq!(relay.sender, reporter.sender, "both are the account acct-1");
        assert_eq!(relay.address, reporter.address);
        let local = resolve(Role::IocOperator, None, None).unwrap();
        assert_eq!((local.address.as_deref(), local.upload_key()), (None, local.sender.as_str()));
    }

    #[test]
    fn a_reporter_may_not_name_the_origin_and_bad_values_name_their_field() {
        assert_eq!(field_of(resolve(Role::Reporter, Some(origin("someone-else", "")), None).unwrap_err()), "origin");
        assert!(resolve(Role::Reporter, Some(origin(" ", "")), None).is_ok(), "blank is absent");
        let long = "x".repeat(MAX_SENDER_CHARS + 1);
        assert_eq!(field_of(resolve(Role::System, Some(origin(&long, "")), None).unwrap_err()), "origin.sender_id");
        let ctl = resolve(Role::System, Some(origin("a\u{0}b", "")), None).unwrap_err();
        assert_eq!(field_of(ctl), "origin.sender_id");
    }
}
