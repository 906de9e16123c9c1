//! Tests of minting and verifying (a child of `token`, so it can sign raw claims).

use super::*;
use crate::auth::KeyConfig;

const OLD_SECRET: &str = "old-secret-0123456789abcdef-0123456789";
const NEW_SECRET: &str = "new-secret-0123456789abcdef-0123456789";

fn config(keys: &[(&str, &str)], active: &str) -> AuthConfig {
    AuthConfig {
        keys: keys.iter().map(|(kid, secret)| KeyConfig { kid: (*kid).into(), secret: (*secret).into() }).collect(),
        active_kid: active.into(),
        ..AuthConfig::default()
    }
}

fn pair(config: &AuthConfig) -> (TokenIssuer, Authenticator) {
    (TokenIssuer::new(config).unwrap(), Authenticator::new(config, "province").unwrap())
}

fn officer_token(issuer: &TokenIssuer) -> String {
    issuer.mint("officer-7", Role::Officer, &UnitId::new("so-gtvt"), "province", None).unwrap()
}

fn claims(exp_offset: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: "officer-7".into(),
        role: Role::Officer,
        unit: UnitId::new("so-gtvt"),
        instance: "province".into(),
        iss: "paht".into(),
        iat: now,
        exp: now + exp_offset,
        jti: None,
    }
}

/// Unpadded base64url, enough to hand-craft hostile tokens.
fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

fn hand_made(header: &serde_json::Value, payload: &serde_json::Value, signature: &str) -> String {
    format!("{}.{}.{signature}", b64url(header.to_string().as_bytes()), b64url(payload.to_string().as_bytes()))
}

#[test]
fn base64url_helper_is_right() {
    assert_eq!(b64url(b"{}"), "e30");
    assert_eq!(b64url(b"any carnal pleas"), "YW55IGNhcm5hbCBwbGVhcw");
}

#[test]
fn mint_then_verify_round_trip() {
    let config = config(&[("k1", OLD_SECRET)], "k1");
    let issuer = TokenIssuer::new(&config).unwrap();
    let auth = Authenticator::new(&config, "local-q1").unwrap();
    let token = issuer
        .mint("leader-3", Role::Leader, &UnitId::new("ubnd-q1"), "local-q1", Some(Duration::from_secs(600)))
        .unwrap();
    let claims = auth.verify(&token).unwrap();
    assert_eq!(claims.sub, "leader-3");
    assert_eq!(claims.role, Role::Leader);
    assert_eq!(claims.unit, UnitId::new("ubnd-q1"));
    assert_eq!(claims.instance, "local-q1");
    assert_eq!(claims.iss, "paht");
    assert_eq!(claims.exp - claims.iat, 600);
    assert!((claims.iat - chrono::Utc::now().timestamp()).abs() <= 5);
    assert!(claims.jti.is_some());
    assert_eq!(jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(), Some("k1"));

    // Without a TTL the configured one applies; two tokens never share a jti.
    let again = issuer.mint("officer-7", Role::Officer, &UnitId::new("so-gtvt"), "local-q1", None).unwrap();
    let claims_again = auth.verify(&again).unwrap();
    assert_eq!(claims_again.exp - claims_again.iat, 3_600);
    assert_ne!(claims_again.jti, claims.jti);
}

#[test]
fn mint_refuses_bad_arguments() {
    let (issuer, _) = pair(&config(&[("k1", OLD_SECRET)], "k1"));
    let unit = UnitId::new("u");
    assert!(
        matches!(issuer.mint("", Role::Officer, &unit, "p", None), Err(AuthError::Mint(m)) if m.contains("subject"))
    );
    assert!(matches!(issuer.mint("s", Role::Officer, &UnitId::new(" "), "p", None), Err(AuthError::Mint(_))));
    assert!(matches!(issuer.mint("s", Role::Officer, &unit, "", None), Err(AuthError::Mint(_))));
    assert!(matches!(issuer.mint("s", Role::Officer, &unit, "p", Some(Duration::ZERO)), Err(AuthError::Mint(_))));
}

#[test]
fn a_token_signed_with_another_secret_is_refused() {
    let (issuer, _) = pair(&config(&[("k1", OLD_SECRET)], "k1"));
    let (_, other) = pair(&config(&[("k1", NEW_SECRET)], "k1"));
    assert_eq!(other.verify(&officer_token(&issuer)), Err(AuthError::InvalidSignature));
}

#[test]
fn a_tampered_payload_is_refused() {
    let (issuer, auth) = pair(&config(&[("k1", OLD_SECRET)], "k1"));
    let officer = officer_token(&issuer);
    let leader = issuer.mint("officer-7", Role::Leader, &UnitId::new("so-gtvt"), "province", None).unwrap();
    // The leader's payload under the officer's signature: a self-promotion attempt.
    let officer_parts: Vec<&str> = officer.split('.').collect();
    let leader_parts: Vec<&str> = leader.split('.').collect();
    let forged = format!("{}.{}.{}", officer_parts[0], leader_parts[1], officer_parts[2]);
    assert_eq!(auth.verify(&forged), Err(AuthError::InvalidSignature));
    // A changed signature. (The first character, not the last: the last base64 digit of a
    // 32-byte MAC carries two unused bits, so changing it may not change the MAC.)
    let signature = officer_parts[2];
    let changed = if signature.starts_with('A') { 'B' } else { 'A' };
    let signature = format!("{changed}{}", &signature[1..]);
    let forged = format!("{}.{}.{signature}", officer_parts[0], officer_parts[1]);
    assert_eq!(auth.verify(&forged), Err(AuthError::InvalidSignature));
}

#[test]
fn an_expired_token_is_refused_beyond_the_leeway() {
    let (issuer, auth) = pair(&config(&[("k1", OLD_SECRET)], "k1"));
    let expired = issuer.sign(&claims(-3_600)).unwrap();
    assert_eq!(auth.verify(&expired), Err(AuthError::Expired));
    // Within the 30 s leeway a just-expired token still passes (clock skew).
    let just_expired = issuer.sign(&claims(-5)).unwrap();
    assert!(auth.verify(&just_expired).is_ok());
}

#[test]
fn a_token_of_another_instance_is_refused_even_with_the_same_key() {
    // Two instances configured with the same secret by mistake: IOC-79's token must not act on IOC-86.
    let config = config(&[("k1", OLD_SECRET)], "k1");
    let issuer = TokenIssuer::new(&config).unwrap();
    let here = Authenticator::new(&config, "IOC-86").unwrap();
    let token = issuer.mint("operator-1", Role::IocOperator, &UnitId::new("IOC-79"), "IOC-79", None).unwrap();
    let refused = here.verify(&token).unwrap_err();
    assert_eq!(refused, AuthError::WrongInstance { token: "IOC-79".into(), here: "IOC-86".into() });
    let status = tonic::Status::from(refused);
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert!(status.message().contains("IOC-79") && status.message().contains("IOC-86"), "{}", status.message());
    assert!(Authenticator::new(&config, "IOC-79").unwrap().verify(&token).is_ok());
    // An authenticator belongs to one named instance.
    assert!(matches!(Authenticator::new(&config, " "), Err(AuthError::Config(_))));
    // A hostile instance claim is cut before it is echoed.
    let long = issuer.mint("x", Role::System, &UnitId::new("X"), &"I".repeat(5000), None).unwrap();
    assert!(here.verify(&long).unwrap_err().to_string().len() < 300);
}

#[test]
fn another_issuer_is_refused() {
    let mut foreign = config(&[("k1", OLD_SECRET)], "k1");
    foreign.issuer = "someone-else".into();
    let (foreign_issuer, _) = pair(&foreign);
    let (_, auth) = pair(&config(&[("k1", OLD_SECRET)], "k1"));
    assert_eq!(auth.verify(&officer_token(&foreign_issuer)), Err(AuthError::InvalidIssuer));
}

#[test]
fn alg_none_and_other_algorithms_are_refused() {
    let (_, auth) = pair(&config(&[("k1", OLD_SECRET)], "k1"));
    let payload = serde_json::to_value(claims(600)).unwrap();
    for alg in ["none", "None", "NONE"] {
        let token = hand_made(&serde_json::json!({"alg": alg, "typ": "JWT", "kid": "k1"}), &payload, "");
        assert_eq!(auth.verify(&token), Err(AuthError::Algorithm), "alg {alg}");
    }
    // A correctly keyed HS512 token is still refused: only HS256 is accepted.
    let mut header = Header::new(Algorithm::HS512);
    header.kid = Some("k1".into());
    let hs512 = jsonwebtoken::encode(&header, &claims(600), &EncodingKey::from_secret(OLD_SECRET.as_bytes())).unwrap();
    assert_eq!(auth.verify(&hs512), Err(AuthError::Algorithm));
    // Algorithm confusion: an RS256 header over an HMAC signature.
    let hs256 = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, &claims(600), &EncodingKey::from_secret(OLD_SECRET.as_bytes())).unwrap()
    };
    let parts: Vec<&str> = hs256.split('.').collect();
    let rs256_header = b64url(br#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#);
    assert_eq!(auth.verify(&format!("{rs256_header}.{}.{}", parts[1], parts[2])), Err(AuthError::Algorithm));
}

#[test]
fn garbage_is_malformed() {
    let (_, auth) = pair(&config(&[("k1", OLD_SECRET)], "k1"));
    for token in ["", "abc", "a.b", "a.b.c", "....", "e30.e30.", &"x".repeat(MAX_TOKEN_LEN + 1)] {
        assert!(matches!(auth.verify(token), Err(AuthError::Malformed(_))), "{token:?} -> {:?}", auth.verify(token));
    }
}

#[test]
fn a_token_without_kid_is_refused() {
    let (_, auth) = pair(&config(&[("k1", OLD_SECRET)], "k1"));
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(600),
        &EncodingKey::from_secret(OLD_SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(auth.verify(&token), Err(AuthError::MissingKeyId));
}

#[test]
fn claims_must_be_complete_and_not_meant_for_another_audience() {
    let (_, auth) = pair(&config(&[("k1", OLD_SECRET)], "k1"));
    let key = EncodingKey::from_secret(OLD_SECRET.as_bytes());
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let sign = |payload: serde_json::Value| jsonwebtoken::encode(&header, &payload, &key).unwrap();

    let mut payload = serde_json::to_value(claims(600)).unwrap();
    payload["role"] = "emperor-SECRETVALUE".into();
    let refused = auth.verify(&sign(payload)).unwrap_err();
    assert!(matches!(refused, AuthError::InvalidClaims(_)));
    assert!(!refused.to_string().contains("SECRETVALUE"), "a claim value was echoed: {refused}");

    let mut payload = serde_json::to_value(claims(600)).unwrap();
    payload.as_object_mut().unwrap().remove("exp");
    assert!(matches!(auth.verify(&sign(payload)), Err(AuthError::InvalidClaims(m)) if m.contains("exp")));

    let mut payload = serde_json::to_value(claims(600)).unwrap();
    payload["aud"] = "another-system".into();
    assert!(matches!(auth.verify(&sign(payload)), Err(AuthError::InvalidClaims(m)) if m.contains("audience")));

    let mut payload = serde_json::to_value(claims(600)).unwrap();
    payload["sub"] = "".into();
    assert!(matches!(auth.verify(&sign(payload)), Err(AuthError::InvalidClaims(m)) if m.contains("sub")));
}

#[test]
fn short_secrets_are_refused() {
    let short = config(&[("k1", "0123456789abcdef0123456789abcde")], "k1"); // 31 bytes
    assert_eq!(TokenIssuer::new(&short).unwrap_err(), AuthError::SecretTooShort { kid: "k1".into(), len: 31 });
    assert!(matches!(Authenticator::new(&short, "province"), Err(AuthError::SecretTooShort { .. })));
    // A short key among good ones is refused too, even if it is not the active one.
    let mixed = config(&[("k1", OLD_SECRET), ("k0", "short")], "k1");
    assert!(
        matches!(Authenticator::new(&mixed, "province"), Err(AuthError::SecretTooShort { kid, .. }) if kid == "k0")
    );
}

#[test]
fn rotated_keys_verify_while_configured() {
    // Before: only the old key.
    let (old_issuer, _) = pair(&config(&[("2025-01", OLD_SECRET)], "2025-01"));
    let old_token = officer_token(&old_issuer);
    // During: both keys, the new one active.
    let during = config(&[("2025-01", OLD_SECRET), ("2025-07", NEW_SECRET)], "2025-07");
    let (new_issuer, auth) = pair(&during);
    let new_token = officer_token(&new_issuer);
    assert_eq!(jsonwebtoken::decode_header(&new_token).unwrap().kid.as_deref(), Some("2025-07"));
    assert!(auth.verify(&old_token).is_ok(), "the old key must verify while configured");
    assert!(auth.verify(&new_token).is_ok());
    // After: the old key removed refuses what it signed.
    let (_, auth) = pair(&config(&[("2025-07", NEW_SECRET)], "2025-07"));
    assert_eq!(auth.verify(&old_token), Err(AuthError::UnknownKey));
    assert!(auth.verify(&new_token).is_ok());
    // A kid that claims a configured key but is signed with another secret is a forgery.
    let (impostor, _) = pair(&config(&[("2025-07", OLD_SECRET)], "2025-07"));
    assert_eq!(auth.verify(&officer_token(&impostor)), Err(AuthError::InvalidSignature));
}

#[test]
fn errors_and_debug_never_carry_the_token_or_secret() {
    let (issuer, auth) = pair(&config(&[("k1", OLD_SECRET)], "k1"));
    let token = officer_token(&issuer);
    let signature = token.rsplit('.').next().unwrap().to_owned();
    let (_, other) = pair(&config(&[("k1", NEW_SECRET)], "k1"));
    let refused = other.verify(&token).unwrap_err();
    let status = tonic::Status::from(refused.clone());
    for text in [refused.to_string(), format!("{refused:?}"), status.message().to_owned()] {
        assert!(!text.contains(&signature), "{text}");
    }
    for text in [format!("{issuer:?}"), format!("{auth:?}")] {
        assert!(!text.contains(OLD_SECRET) && text.contains("k1"), "{text}");
    }
}
