//! The memory store.

use super::*;
use crate::store::tests::*;

#[test]
fn memory_store_saves_clears_and_shares_between_clones() {
    let store = MemoryStore::new();
    assert_eq!(loaded(&store), None);
    let clone = store.clone();
    store.save(&jwt(TOKEN)).expect("save");
    assert_eq!(loaded(&clone).as_deref(), Some(TOKEN));
    clone.save(&jwt(OTHER_TOKEN)).expect("save");
    assert_eq!(loaded(&store).as_deref(), Some(OTHER_TOKEN));
    store.clear().expect("clear");
    assert_eq!(loaded(&clone), None);
    store.clear().expect("clearing twice");
    assert_eq!(
        loaded(&MemoryStore::with_token(jwt(TOKEN))).as_deref(),
        Some(TOKEN)
    );
    assert_eq!(store.describe(), "memory");
}
