//! TODO: lin-tso.
use super::Service;
use rand::rngs::StdRng;
use serde_json::Value;

/// Linearizable timestamp oracle: 0, 1, 2, ...
#[derive(Default)]
pub struct LinTso {}

impl Service for LinTso {
    fn handle(&mut self, _src: &str, _body: &Value, _rng: &mut StdRng) -> Option<Value> {
        None
    }
}
