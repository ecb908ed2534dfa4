//! glomers-sim: a Maelstrom-compatible test bench (placeholder until the bench lands).
fn main() {
    eprintln!("glomers-sim: not built yet");
    std::process::exit(255);
}
