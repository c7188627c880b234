//! The environment override: which variable wins, and that it is read-only.

use super::*;
use crate::store::tests::*;

#[test]
fn agent_identity_jwt_beats_codex_access_token_beats_the_fallback() {
    // (AGENT_IDENTITY_JWT, CODEX_ACCESS_TOKEN, expected token, expected source)
    let cases = [
        (
            Some("primary"),
            Some("compat"),
            Some("primary"),
            Some(JWT_ENV_VAR),
        ),
        (Some("primary"), None, Some("primary"), Some(JWT_ENV_VAR)),
        (
            None,
            Some("compat"),
            Some("compat"),
            Some(JWT_ENV_VAR_COMPAT),
        ),
        (
            Some(""),
            Some("compat"),
            Some("compat"),
            Some(JWT_ENV_VAR_COMPAT),
        ),
        (
            Some(" \n"),
            Some("compat"),
            Some("compat"),
            Some(JWT_ENV_VAR_COMPAT),
        ),
        (Some(""), Some(""), Some("fallback"), None),
        (None, Some("\t"), Some("fallback"), None),
        (None, None, Some("fallback"), None),
    ];
    for (primary, compat, expected, source) in cases {
        let fallback = Arc::new(MemoryStore::with_token(jwt("fallback")));
        let store = EnvOverride::from_env_lookup(fallback, |name| match name {
            JWT_ENV_VAR => primary.map(str::to_owned),
            JWT_ENV_VAR_COMPAT => compat.map(str::to_owned),
            other => panic!("looked up unexpected variable {other}"),
        });
        let case = format!("{primary:?}, {compat:?}");
        assert_eq!(loaded(&store).as_deref(), expected, "{case}");
        assert_eq!(store.is_overridden(), source.is_some(), "{case}");
        match source {
            Some(name) => assert_eq!(store.describe(), format!("environment ({name})"), "{case}"),
            None => assert_eq!(store.describe(), "memory", "{case}"),
        }
    }
}

#[test]
fn an_environment_token_is_trimmed() {
    let store = EnvOverride::from_env_lookup(Arc::new(MemoryStore::new()), |name| {
        (name == JWT_ENV_VAR).then(|| format!("{TOKEN}\n"))
    });
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
}

#[test]
fn an_environment_token_is_read_only_and_leaves_the_fallback_alone() {
    for name in [JWT_ENV_VAR, JWT_ENV_VAR_COMPAT] {
        let (_dir, file) = home();
        file.save(&jwt(OTHER_TOKEN)).expect("seed");
        let before = fs::read(file.path()).expect("read");
        let fallback: Arc<dyn CredentialStore> = Arc::new(file.clone());
        let store = EnvOverride::from_env_lookup(fallback, |looked_up| {
            (looked_up == name).then(|| TOKEN.to_owned())
        });

        assert!(
            matches!(store.save(&jwt("x.y.z")), Err(StoreError::ReadOnly(source)) if source == name)
        );
        assert!(matches!(store.clear(), Err(StoreError::ReadOnly(source)) if source == name));
        assert_eq!(
            fs::read(file.path()).expect("read"),
            before,
            "the fallback file changed"
        );
        assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
        assert_eq!(loaded(&file).as_deref(), Some(OTHER_TOKEN));
    }
}

#[test]
fn without_an_environment_token_writes_reach_the_fallback() {
    let fallback = Arc::new(MemoryStore::new());
    let store = EnvOverride::from_env_lookup(fallback.clone(), |_| None);
    store.save(&jwt(TOKEN)).expect("save");
    assert_eq!(loaded(fallback.as_ref()).as_deref(), Some(TOKEN));
    store.clear().expect("clear");
    assert_eq!(loaded(fallback.as_ref()), None);
}
