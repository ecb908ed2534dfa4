//! TODO: lin-kv, seq-kv, lww-kv.
use super::Service;
use rand::rngs::StdRng;
use serde_json::Value;

/// Linearizable key-value store: one atomic map.
#[derive(Default)]
pub struct LinKv {}
/// Sequentially consistent key-value store that serves stale snapshots on purpose.
#[derive(Default)]
pub struct SeqKv {}
/// Last-writer-wins store over two replicas that never converge.
#[derive(Default)]
pub struct LwwKv {}

impl Service for LinKv {
    fn handle(&mut self, _src: &str, _body: &Value, _rng: &mut StdRng) -> Option<Value> {
        None
    }
}
impl Service for SeqKv {
    fn handle(&mut self, _src: &str, _body: &Value, _rng: &mut StdRng) -> Option<Value> {
        None
    }
}
impl Service for LwwKv {
    fn handle(&mut self, _src: &str, _body: &Value, _rng: &mut StdRng) -> Option<Value> {
        None
    }
}
