//! did:plc identities: registered with a PLC directory over HTTP, as a PDS registers them.

use crate::http::client;
use atproto::crypto::{Algorithm, Keypair, PublicKey};
use atproto::identity::DidDocument;
use atproto::plc::{Operation, PlcOp, Service, create_genesis, update_op};

/// A did:plc with its keys, and its latest operation (to sign the next one).
pub struct PlcIdentity {
    pub did: String,
    pub handle: String,
    /// The `#atproto` signing key: what service tokens and commits are signed with.
    pub key: Keypair,
    pub rotation: Keypair,
    pub last_op: PlcOp,
}

impl PlcIdentity {
    /// Registers `handle` hosted at `pds`, with `services` (id, type, endpoint) besides
    /// `#atproto_pds`, at the directory `plc`.
    pub async fn register(
        plc: &str,
        handle: &str,
        pds: &str,
        services: &[(&str, &str, &str)],
    ) -> PlcIdentity {
        let key = Keypair::generate(Algorithm::K256);
        let rotation = Keypair::generate(Algorithm::K256);
        let mut op = Operation::atproto(
            &key.public(),
            handle,
            pds,
            vec![rotation.public().did_key()],
            None,
        );
        for (id, kind, endpoint) in services {
            op.services.insert(
                (*id).to_owned(),
                Service {
                    kind: (*kind).to_owned(),
                    endpoint: (*endpoint).to_owned(),
                },
            );
        }
        let (did, op) = create_genesis(op, &rotation).expect("genesis operation");
        submit(plc, &did, &op).await;
        PlcIdentity {
            did,
            handle: handle.to_owned(),
            key,
            rotation,
            last_op: op,
        }
    }

    /// Signs and submits an update made by `change`.
    pub async fn update(&mut self, plc: &str, change: impl FnOnce(&mut Operation)) {
        let op = update_op(&self.last_op, &self.rotation, change).expect("update operation");
        submit(plc, &self.did, &op).await;
        self.last_op = op;
    }
}

async fn submit(plc: &str, did: &str, op: &PlcOp) {
    let res = client()
        .post(format!("{plc}/{did}"))
        .json(&op.to_json())
        .send()
        .await
        .expect("PLC directory reachable");
    let status = res.status();
    assert!(
        status.is_success(),
        "PLC directory refused {did}: {status} {}",
        res.text().await.unwrap_or_default()
    );
}

/// The repository signing key of `did`, from the PLC directory's DID document.
pub async fn plc_key(plc: &str, did: &str) -> PublicKey {
    let doc: DidDocument = client()
        .get(format!("{plc}/{did}"))
        .send()
        .await
        .expect("plc get")
        .json()
        .await
        .expect("did doc");
    doc.signing_key().expect("signing key")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TestPlc;

    #[tokio::test]
    async fn registers_and_updates_a_did() {
        let plc = TestPlc::spawn().expect("plc");
        let mut id = PlcIdentity::register(plc.url(), "alice.test", "https://pds.test", &[]).await;
        assert_eq!(
            plc_key(plc.url(), &id.did).await.did_key(),
            id.key.public().did_key()
        );
        id.update(plc.url(), |o| {
            o.also_known_as = vec!["at://alice2.test".into()]
        })
        .await;
        let doc: DidDocument = client()
            .get(format!("{}/{}", plc.url(), id.did))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc.handle().unwrap().as_str(), "alice2.test");
    }
}
