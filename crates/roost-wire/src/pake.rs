//! The password authentication of join-cluster: OPAQUE (RFC 9807, the `opaque-ke` crate), an
//! augmented PAKE, with ristretto255, triple-DH over SHA-512 and argon2id as the key-stretching
//! function.
//!
//! * **The primary never sees the password.** It holds, per user, only a *registration record*
//!   ([`register`], made wherever the password is set and replicated in the configuration),
//!   and the *server setup* ([`ServerKeys`]), which every member derives from the cluster key
//!   (HKDF-SHA256 then a seeded ChaCha20 RNG), so any member can be the primary. The cluster key
//!   is not in the configuration: a stolen configuration (records only) lets no one pose as the
//!   primary or the joiner, and records cannot be checked against guesses without the key.
//! * **Mutual authentication.** The joiner sends KE1 ([`client_start`]); the primary answers
//!   KE2 ([`server_start`]). Only a primary holding this user's record (and the cluster's server
//!   setup) can produce a KE2 that [`ClientStart::finish`] accepts with the right password, so
//!   the joiner learns the primary is genuine before it sends anything about itself. KE3 then
//!   proves the joiner knew the password ([`ServerStart::finish`]).
//! * **Cheap for the primary.** The KSF (argon2id, 19 MiB) runs on the joiner only; the
//!   primary's steps are a few group operations.
//! * Both sides end with the same 64-byte session key, from which [`SessionKeys`] derives one
//!   ChaCha20-Poly1305 key per direction; the join request and the cluster key + configuration
//!   travel sealed under them (inside TLS as well).

use crate::ClusterKey;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use opaque_ke::ciphersuite::CipherSuite;
use opaque_ke::{
    ClientLogin, ClientLoginFinishParameters, ClientRegistration,
    ClientRegistrationFinishParameters, CredentialFinalization, CredentialRequest,
    CredentialResponse, RegistrationRequest, RegistrationResponse, ServerLogin,
    ServerLoginParameters, ServerRegistration, ServerSetup,
};
use rand::rngs::OsRng;
use rand::SeedableRng;

/// The OPAQUE cipher suite of join-cluster (changing it makes every record invalid).
pub struct JoinSuite;

impl CipherSuite for JoinSuite {
    type OprfCs = opaque_ke::Ristretto255;
    type KeyExchange = opaque_ke::TripleDh<opaque_ke::Ristretto255, sha2::Sha512>;
    type Ksf = opaque_ke::argon2::Argon2<'static>;
}

/// Errors of the exchange. Deliberately coarse: a wrong password, an unknown user and a
/// primary without the record all look the same ([`PakeError::AuthenticationFailed`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PakeError {
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("authentication failed")]
    AuthenticationFailed,
    #[error("the sealed join message does not authenticate (tampered, or another session)")]
    Sealed,
    #[error("OPAQUE registration failed: {0}")]
    Registration(String),
}

/// The OPAQUE server setup (OPRF seed and server key pair) of a cluster.
pub struct ServerKeys(ServerSetup<JoinSuite>);

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKeys(..)")
    }
}

impl ServerKeys {
    /// The cluster's server setup, the same on every member holding `key`.
    pub fn derive(key: &ClusterKey) -> ServerKeys {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"roost join-cluster opaque v1"), &key.0);
        let mut seed = [0u8; 32];
        hk.expand(b"server setup", &mut seed)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
        ServerKeys(ServerSetup::new(&mut rng))
    }
}

/// Length of a registration record in bytes (hex text is twice that).
pub fn record_len() -> usize {
    // client public key (32) + masking key (64) + envelope (nonce 32 + MAC 64)
    192
}

/// Makes the registration record of `user` with `password` (hex): runs both sides of OPAQUE's
/// registration locally, on the member where the password is set, which holds the cluster key.
/// Costs one argon2id run.
pub fn register(keys: &ServerKeys, user: &str, password: &str) -> Result<String, PakeError> {
    let reg = |e: opaque_ke::errors::ProtocolError| PakeError::Registration(e.to_string());
    let start =
        ClientRegistration::<JoinSuite>::start(&mut OsRng, password.as_bytes()).map_err(reg)?;
    let request = RegistrationRequest::deserialize(&start.message.serialize()).map_err(reg)?;
    let response =
        ServerRegistration::<JoinSuite>::start(&keys.0, request, user.as_bytes()).map_err(reg)?;
    let response = RegistrationResponse::deserialize(&response.message.serialize()).map_err(reg)?;
    let finish = start
        .state
        .finish(
            &mut OsRng,
            password.as_bytes(),
            response,
            ClientRegistrationFinishParameters::default(),
        )
        .map_err(reg)?;
    Ok(hex::encode(
        ServerRegistration::finish(finish.message).serialize(),
    ))
}

/// Checks the text form of a registration record (for the configuration parser).
pub fn check_record(text: &str) -> Result<(), String> {
    let bad = || format!("OPAQUE record must be {} hex digits", 2 * record_len());
    if text.len() != 2 * record_len() {
        return Err(bad());
    }
    let bytes = hex::decode(text).map_err(|_| bad())?;
    ServerRegistration::<JoinSuite>::deserialize(&bytes)
        .map(|_| ())
        .map_err(|_| "OPAQUE record is not a valid registration record".to_string())
}

/// The joiner's state between KE1 and KE2.
pub struct ClientStart(ClientLogin<JoinSuite>);

/// KE1 and the joiner's state. The password is needed again in [`ClientStart::finish`].
pub fn client_start(password: &str) -> Result<(ClientStart, Vec<u8>), PakeError> {
    let r = ClientLogin::<JoinSuite>::start(&mut OsRng, password.as_bytes())
        .map_err(|_| PakeError::Malformed("password"))?;
    Ok((ClientStart(r.state), r.message.serialize().to_vec()))
}

impl ClientStart {
    /// Checks KE2 (runs the KSF): `Ok` only if the primary holds this user's record and the
    /// password is right. Returns KE3 and the session keys.
    pub fn finish(self, password: &str, ke2: &[u8]) -> Result<(Vec<u8>, SessionKeys), PakeError> {
        let response = CredentialResponse::<JoinSuite>::deserialize(ke2)
            .map_err(|_| PakeError::Malformed("KE2"))?;
        let done = self
            .0
            .finish(
                &mut OsRng,
                password.as_bytes(),
                response,
                ClientLoginFinishParameters::default(),
            )
            .map_err(|_| PakeError::AuthenticationFailed)?;
        Ok((
            done.message.serialize().to_vec(),
            SessionKeys::from_session_key(&done.session_key),
        ))
    }
}

/// The primary's state between KE2 and KE3.
pub struct ServerStart(ServerLogin<JoinSuite>);

/// KE2 for `user`'s KE1. With `record: None` (unknown user) it still answers, with a fake
/// response that no password completes, so an unknown user looks like a wrong password.
/// A record that does not parse is an error.
pub fn server_start(
    keys: &ServerKeys,
    user: &str,
    record: Option<&str>,
    ke1: &[u8],
) -> Result<(ServerStart, Vec<u8>), PakeError> {
    let record = match record {
        Some(t) => {
            let bytes = hex::decode(t).map_err(|_| PakeError::Malformed("registration record"))?;
            Some(
                ServerRegistration::<JoinSuite>::deserialize(&bytes)
                    .map_err(|_| PakeError::Malformed("registration record"))?,
            )
        }
        None => None,
    };
    let request = CredentialRequest::<JoinSuite>::deserialize(ke1)
        .map_err(|_| PakeError::Malformed("KE1"))?;
    let r = ServerLogin::start(
        &mut OsRng,
        &keys.0,
        record,
        request,
        user.as_bytes(),
        ServerLoginParameters::default(),
    )
    .map_err(|_| PakeError::Malformed("KE1"))?;
    Ok((ServerStart(r.state), r.message.serialize().to_vec()))
}

impl ServerStart {
    /// Checks KE3: `Ok` only if the joiner knew the password.
    pub fn finish(self, ke3: &[u8]) -> Result<SessionKeys, PakeError> {
        let fin = CredentialFinalization::<JoinSuite>::deserialize(ke3)
            .map_err(|_| PakeError::Malformed("KE3"))?;
        let done = self
            .0
            .finish(fin, ServerLoginParameters::default())
            .map_err(|_| PakeError::AuthenticationFailed)?;
        Ok(SessionKeys::from_session_key(&done.session_key))
    }
}

/// One ChaCha20-Poly1305 key per direction, derived from the OPAQUE session key. Each key seals
/// exactly one message (the join request, the join response), so a fixed nonce never repeats
/// under a key.
pub struct SessionKeys {
    to_primary: [u8; 32],
    to_joiner: [u8; 32],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

const AAD_TO_PRIMARY: &[u8] = b"roost join request v1";
const AAD_TO_JOINER: &[u8] = b"roost join response v1";

impl SessionKeys {
    fn from_session_key(k: &[u8]) -> SessionKeys {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"roost join-cluster session v1"), k);
        let mut to_primary = [0u8; 32];
        let mut to_joiner = [0u8; 32];
        hk.expand(b"to primary", &mut to_primary)
            .expect("valid HKDF length");
        hk.expand(b"to joiner", &mut to_joiner)
            .expect("valid HKDF length");
        SessionKeys {
            to_primary,
            to_joiner,
        }
    }

    fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        ChaCha20Poly1305::new(Key::from_slice(key))
            .encrypt(
                Nonce::from_slice(&[0u8; 12]),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("ChaCha20-Poly1305 seals any message under 256 GiB")
    }

    fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, PakeError> {
        ChaCha20Poly1305::new(Key::from_slice(key))
            .decrypt(Nonce::from_slice(&[0u8; 12]), Payload { msg: sealed, aad })
            .map_err(|_| PakeError::Sealed)
    }

    /// The joiner seals its request.
    pub fn seal_to_primary(&self, plaintext: &[u8]) -> Vec<u8> {
        Self::seal(&self.to_primary, AAD_TO_PRIMARY, plaintext)
    }
    /// The primary opens the joiner's request.
    pub fn open_from_joiner(&self, sealed: &[u8]) -> Result<Vec<u8>, PakeError> {
        Self::open(&self.to_primary, AAD_TO_PRIMARY, sealed)
    }
    /// The primary seals its response.
    pub fn seal_to_joiner(&self, plaintext: &[u8]) -> Vec<u8> {
        Self::seal(&self.to_joiner, AAD_TO_JOINER, plaintext)
    }
    /// The joiner opens the primary's response.
    pub fn open_from_primary(&self, sealed: &[u8]) -> Result<Vec<u8>, PakeError> {
        Self::open(&self.to_joiner, AAD_TO_JOINER, sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> ServerKeys {
        ServerKeys::derive(&ClusterKey([7; 32]))
    }

    /// The whole exchange; `Err` where it stops.
    fn exchange(
        keys: &ServerKeys,
        user: &str,
        record: Option<&str>,
        password: &str,
    ) -> Result<(SessionKeys, SessionKeys), PakeError> {
        let (c, ke1) = client_start(password)?;
        let (s, ke2) = server_start(keys, user, record, &ke1)?;
        let (ke3, ck) = c.finish(password, &ke2)?;
        let sk = s.finish(&ke3)?;
        Ok((ck, sk))
    }

    #[test]
    fn right_password_joins_and_both_sides_share_the_keys() {
        let k = keys();
        let rec = register(&k, "admin", "S3cret!").unwrap();
        assert_eq!(rec.len(), 2 * record_len());
        check_record(&rec).unwrap();
        let (ck, sk) = exchange(&k, "admin", Some(&rec), "S3cret!").unwrap();
        let sealed = ck.seal_to_primary(b"join me");
        assert_eq!(sk.open_from_joiner(&sealed).unwrap(), b"join me");
        let sealed = sk.seal_to_joiner(b"key + config");
        assert_eq!(ck.open_from_primary(&sealed).unwrap(), b"key + config");
        // The directions are separate keys: a message does not open as the other direction's.
        assert_eq!(
            ck.open_from_primary(&ck.seal_to_primary(b"x")),
            Err(PakeError::Sealed)
        );
    }

    #[test]
    fn the_setup_is_derived_from_the_cluster_key_only() {
        // Another member with the same cluster key accepts a record made on this one...
        let rec = register(&keys(), "admin", "pw").unwrap();
        assert!(exchange(&keys(), "admin", Some(&rec), "pw").is_ok());
        // ...a primary with another cluster key does not (the joiner refuses its KE2).
        let other = ServerKeys::derive(&ClusterKey([8; 32]));
        assert_eq!(
            exchange(&other, "admin", Some(&rec), "pw").err(),
            Some(PakeError::AuthenticationFailed)
        );
    }

    #[test]
    fn wrong_password_unknown_user_and_other_users_record_are_refused_alike() {
        let k = keys();
        let rec = register(&k, "admin", "S3cret!").unwrap();
        let bob = register(&k, "bob", "S3cret!").unwrap();
        for (user, record, pw) in [
            ("admin", Some(rec.as_str()), "s3cret!"),
            ("admin", Some(rec.as_str()), ""),
            ("nobody", None, "S3cret!"),
            // A record is bound to its user name: bob's record does not log in admin.
            ("admin", Some(bob.as_str()), "S3cret!"),
        ] {
            assert_eq!(
                exchange(&k, user, record, pw).err(),
                Some(PakeError::AuthenticationFailed),
                "{user} {pw}"
            );
        }
    }

    #[test]
    fn a_stolen_record_and_setup_without_the_password_cannot_complete_as_the_client() {
        // The attacker has everything the primary has (record and server setup, i.e. even the
        // cluster key) but not the password: every guess fails at the client step, and the
        // primary's KE3 check refuses anything it forges.
        let k = keys();
        let rec = register(&k, "admin", "correct horse").unwrap();
        for guess in ["", "correct", "correct horse ", "Correct horse"] {
            assert_eq!(
                exchange(&k, "admin", Some(&rec), guess).err(),
                Some(PakeError::AuthenticationFailed)
            );
        }
        // Forged KE3 bytes (from a client that never ran with the password).
        let (_c, ke1) = client_start("correct horse").unwrap();
        let (s, ke2) = server_start(&k, "admin", Some(&rec), &ke1).unwrap();
        let (attacker, _) = client_start("guess").unwrap();
        assert!(attacker.finish("guess", &ke2).is_err());
        assert_eq!(
            s.finish(&[0u8; 64]).err(),
            Some(PakeError::AuthenticationFailed)
        );
    }

    #[test]
    fn tampered_messages_fail() {
        let k = keys();
        let rec = register(&k, "admin", "pw").unwrap();
        // KE2 with one bit flipped: the joiner refuses it.
        let (c, ke1) = client_start("pw").unwrap();
        let (_s, mut ke2) = server_start(&k, "admin", Some(&rec), &ke1).unwrap();
        let last = ke2.len() - 1;
        ke2[last] ^= 1;
        assert!(c.finish("pw", &ke2).is_err());
        // KE1 with a bit flipped in the blinded element: the primary answers, but no password
        // completes the exchange.
        let (c, mut ke1) = client_start("pw").unwrap();
        ke1[3] ^= 0x40;
        if let Ok((_s, ke2)) = server_start(&k, "admin", Some(&rec), &ke1) {
            assert!(c.finish("pw", &ke2).is_err());
        }
        // KE3 with a bit flipped: the primary refuses it.
        let (c, ke1) = client_start("pw").unwrap();
        let (s, ke2) = server_start(&k, "admin", Some(&rec), &ke1).unwrap();
        let (mut ke3, _) = c.finish("pw", &ke2).unwrap();
        ke3[0] ^= 1;
        assert_eq!(s.finish(&ke3).err(), Some(PakeError::AuthenticationFailed));
        // A sealed message with a bit flipped does not open.
        let (ck, sk) = exchange(&k, "admin", Some(&rec), "pw").unwrap();
        let mut sealed = ck.seal_to_primary(b"request");
        sealed[2] ^= 1;
        assert_eq!(sk.open_from_joiner(&sealed), Err(PakeError::Sealed));
        // Truncated and garbage messages are malformed, never a panic.
        assert!(server_start(&k, "admin", Some(&rec), &[1, 2, 3]).is_err());
        let (c, _) = client_start("pw").unwrap();
        assert_eq!(
            c.finish("pw", b"short").err(),
            Some(PakeError::Malformed("KE2"))
        );
        assert!(server_start(&k, "admin", Some("zz"), &ke1).is_err());
    }

    #[test]
    fn record_text_is_checked() {
        let rec = register(&keys(), "a", "b").unwrap();
        assert!(check_record(&rec).is_ok());
        assert!(check_record(&rec[1..]).is_err());
        assert!(check_record(&"g".repeat(2 * record_len())).is_err());
        assert!(check_record("").is_err());
    }
}
