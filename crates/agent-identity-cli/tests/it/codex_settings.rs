//! Codex's own settings, read as Codex reads them: `CODEX_AGENT_IDENTITY_JWKS_BASE_URL`.

use crate::support::Fixture;

#[tokio::test(flavor = "multi_thread")]
async fn the_codex_key_set_base_finds_the_key_set_and_the_agent_variables_win() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let token = fixture.token_file(&minted);
    let base = fixture.emulator.chatgpt_base_url().to_string();
    let run = fixture
        .cli()
        .env("CODEX_AGENT_IDENTITY_JWKS_BASE_URL", base.as_str())
        .args(["verify", "--json", "--jwt-file"])
        .arg(&token)
        .run()
        .await;
    run.assert_code(0);
    assert_eq!(run.json()["ok"], true);

    // `AGENT_IDENTITY_JWKS_URL` is read first: a URL that leads nowhere now decides.
    let nowhere = format!("http://{}/jwks", crate::support::refusing_port());
    let run = fixture
        .cli()
        .env("CODEX_AGENT_IDENTITY_JWKS_BASE_URL", base.as_str())
        .env("AGENT_IDENTITY_JWKS_URL", nowhere.as_str())
        .args(["verify", "--json", "--jwt-file"])
        .arg(&token)
        .run()
        .await;
    assert_ne!(run.code, Some(0), "{run:#?}");
}
