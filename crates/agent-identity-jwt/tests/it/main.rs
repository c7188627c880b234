//! Integration tests of agent-identity-jwt: vectors, cache behaviour, properties and secrecy.

mod cache;
mod props;
mod secrets;
mod vectors;
mod verify;
