//! What changed, for pages that update while open: a post was written in a channel. A change
//! carries keys only, never content or who wrote it, so a listener learns nothing it could not
//! ask the gate for; it still asks the gate before telling anyone.

pub use crate::model::Change;
use crate::service::Spaces;
use tokio::sync::broadcast;

impl Spaces {
    /// Every change committed from now on.
    pub fn changes(&self) -> broadcast::Receiver<Change> {
        self.live.subscribe()
    }

    /// Tells the listeners, once `txn` commits.
    pub(crate) fn announce_after_commit<S>(
        &self,
        txn: &mut hearth_db::WriteTxn<'_, S>,
        change: Change,
    ) {
        let s = self.clone();
        // No listener is not an error: nobody has a page open.
        txn.after_commit(move || drop(s.live.send(change)));
    }
}
