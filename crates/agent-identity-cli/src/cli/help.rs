//! The text after each command's flags in `--help`: a few realistic examples, and the exit codes
//! that command can end with (the codes are [`Exit`](crate::error::Exit)'s).

/// After the tool's own help.
pub(super) const TOP: &str = "\
Examples:
  agent-identity login --jwt-file token.jwt     verify, register a task, store the token
  agent-identity status                         what is stored, offline
  agent-identity header --format curl           fresh request headers, as curl -H arguments
  agent-identity doctor                         check the setup and say what to do next

Each command's --help lists the flags it takes, written after the command name
(agent-identity status --home DIR); --json and -v go anywhere.

Exit codes:
  0   success
  1   rejected, invalid or logged out (a permanent failure)
  2   usage error, or a setting that cannot be used (error config)
  75  transient failure (the AuthAPI or the key set unreachable, the store locked): retry later";

pub(super) const DEMO: &str = "\
Examples:
  agent-identity demo
  agent-identity demo --json

Exit codes:
  0   every step ran as expected
  1   a step failed
  2   usage error";

pub(super) const EMULATOR: &str = "\
Examples:
  agent-identity emulator
  agent-identity emulator --listen localhost:8080
  agent-identity emulator --json --listen 127.0.0.1:0    the first line names the bound address
  eval \"$(agent-identity emulator --env &)\"               point this shell's CLI and from_env at it
  agent-identity emulator --algorithm eddsa               Ed25519 keys (clients: --algorithms EdDSA)

The admin endpoints (/_emulator/mint, /_emulator/faults, /_emulator/chatgpt-login) are described
in docs/emulator.md.

Exit codes:
  0   stopped by SIGTERM or Ctrl-C
  1   the address cannot be bound
  2   usage error";

pub(super) const VERIFY: &str = "\
Examples:
  agent-identity verify --jwt-file token.jwt
  agent-identity verify --jwt-file - --json < token.jwt
  agent-identity verify --jwt-file token.jwt --jwks-file jwks.json    offline

Exit codes:
  0   the token verifies
  1   the token is rejected (malformed, bad signature, expired, wrong issuer or audience)
  2   usage error, or a setting that cannot be used (error config)
  75  the key set cannot be fetched: retry later";

pub(super) const LOGIN: &str = "\
Examples:
  agent-identity login --jwt-file token.jwt
  agent-identity login --jwt-file - < token.jwt
  agent-identity login --jwt-file token.jwt --home /var/lib/agent

Exit codes:
  0   verified, a task registered, and the token stored
  1   the token is rejected or the store cannot be written (nothing is written)
  2   usage error, or a setting that cannot be used (error config)
  75  the key set or the AuthAPI is unreachable (nothing is written), the store is locked by
      another process, or the OS keyring is locked or does not answer (a keyring write that
      timed out may still land): retry later";

pub(super) const STATUS: &str = "\
Examples:
  agent-identity status
  agent-identity status --json
  agent-identity status --jwt-file /var/run/secrets/agent/token

Exit codes:
  0   ready
  1   logged out, expired, or the stored credentials are unusable
  2   usage error, or a setting that cannot be used (error config)
  75  the store cannot be read for now (a passing I/O failure, or the OS keyring locked or not
      answering): retry later";

pub(super) const HEADER: &str = "\
Examples:
  agent-identity header
  eval \"curl $(agent-identity header --format curl) https://chatgpt.com/backend-api/wham/tasks\"
  agent-identity header --format env
  agent-identity header --jwt-file /var/run/secrets/agent/token --json

Exit codes:
  0   headers printed
  1   not logged in, or the identity is rejected
  2   usage error, or a setting that cannot be used (error config)
  75  the key set or the AuthAPI is unreachable: retry later";

pub(super) const LOGOUT: &str = "\
Examples:
  agent-identity logout
  agent-identity logout --home /var/lib/agent --json

Exit codes:
  0   nothing stored any more
  1   the store cannot be used (a refused file, a home that is a file)
  2   usage error, or a setting that cannot be used (error config)
  75  the store is locked by another process, or the OS keyring is locked or does not answer:
      retry later";

pub(super) const REGISTER: &str = "\
Examples:
  agent-identity register
  agent-identity register --chatgpt-auth ~/.codex/auth.json --home /var/lib/agent

Without --chatgpt-auth the ChatGPT login is the home's own auth.json, and the record is written
into it beside the login, as Codex writes it. With --chatgpt-auth FILE the record is written alone
into the home; no ChatGPT token is ever copied there. Nothing is written unless every step
succeeded.

Exit codes:
  0   registered, and the record written
  1   no usable ChatGPT login (absent or expired: run `codex login`), or the AuthAPI refused it
  2   usage error, or a setting that cannot be used (error config)
  75  the AuthAPI is unreachable: retry later";

pub(super) const DOCTOR: &str = "\
Examples:
  agent-identity doctor
  agent-identity doctor --json
  agent-identity doctor --jwt-file /var/run/secrets/agent/token

Exit codes:
  0   all is well (warnings allowed)
  1   something blocks
  2   usage error, or a setting that cannot be used (error config)
  75  only something transient is wrong (a server unreachable): retry later";

pub(super) const PROXY: &str = "\
Examples:
  agent-identity proxy --upstream https://chatgpt.com/backend-api
  agent-identity proxy --upstream https://chatgpt.com/backend-api --listen unix:/run/agent.sock
  agent-identity proxy --upstream http://127.0.0.1:8080 --json --client-token-file token

Exit codes:
  0   stopped by SIGTERM or Ctrl-C, requests drained
  1   the identity is rejected, or the address cannot be bound
  2   usage error, or a setting that cannot be used (error config)
  75  the identity cannot be loaded yet (the key set or the AuthAPI unreachable): retry later";

pub(super) const EXEC: &str = "\
Examples:
  agent-identity exec -- sh -c 'curl -H \"Authorization: Bearer $AGENT_IDENTITY_PROXY_TOKEN\" \"$AGENT_IDENTITY_PROXY_URL/wham/tasks\"'
  agent-identity exec --openai-env -- python agent.py
  agent-identity exec --jwt-file /var/run/secrets/agent.jwt --wait-for-credentials 2m -- ./agent

The identity is loaded before the command starts. The command gets none of the identity's
variables, and this process cannot be read through /proc by other processes. It is not a sandbox:
the command runs as your user and can read auth.json in the home.

Outside a terminal the command runs in a process group of its own, and SIGINT, SIGTERM, SIGQUIT
and SIGHUP are passed on to that group once. In a terminal's foreground it shares the terminal
with us, which sends it Ctrl-C itself; only SIGTERM is passed on.

Exit codes:
  N    the command's own exit status (128 + the signal when a signal ended it)
  1    the identity is rejected, or not logged in (run agent-identity login)
  2    usage error, or a setting that cannot be used (error config)
  75   the identity cannot be loaded yet (the key set or the AuthAPI unreachable): retry later
  126  the command cannot be run (not executable)
  127  the command was not found";
