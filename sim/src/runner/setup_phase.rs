//! Before the main phase: `init` on every node (10 s, one fresh client per node, closed
//! afterwards) and the workload's setup request (one client per node, kept until
//! teardown), each node's client in its own thread while the node processes are watched.

use super::*;
use crate::client::{ClientIds, Conn};
use crate::net::{Net, RouterCmd};
use crate::process::NodeProc;
use crate::setup;
use std::time::Duration;

/// Fails with a crash if any node has exited (or the user interrupted the run).
pub(super) fn check_exits(procs: &mut [NodeProc]) -> Result<(), Box<Crash>> {
    if crate::interrupt::requested() {
        return Err(Box::new(Crash::interrupted()));
    }
    for p in procs.iter_mut() {
        if let Some(st) = p.poll_exit() {
            return Err(Box::new(Crash::node_exit(&p.id, &st, p.log_tail())));
        }
    }
    Ok(())
}

/// Waits for setup threads while watching the nodes. When one exits, the setup clients
/// are unregistered, which wakes their threads at once (their RPCs end as timeouts).
fn watch_setup<T>(
    handles: &[std::thread::ScopedJoinHandle<'_, T>],
    procs: &mut [NodeProc],
    net: &Net,
    client_ids: &[String],
) -> Option<Box<Crash>> {
    while !handles.iter().all(|h| h.is_finished()) {
        if let Err(crash) = check_exits(procs) {
            for id in client_ids {
                let _ = net.tx.send(RouterCmd::Unregister { id: id.clone() });
            }
            return Some(crash);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Opens one client per node and runs `work` with each in its own thread while
/// watching the nodes ([`watch_setup`]). Returns every client with its result, and the
/// crash if a node exited first.
fn on_every_node<R: Send>(
    plan: &TestPlan,
    net: &Net,
    ids: &ClientIds,
    procs: &mut [NodeProc],
    work: impl Fn(&mut Conn) -> R + Sync,
) -> (Vec<(Conn, R)>, Option<Box<Crash>>) {
    let conns: Vec<Conn> = plan.nodes.iter().map(|n| Conn::open(net, ids, n)).collect();
    let client_ids: Vec<String> = conns.iter().map(|c| c.id.clone()).collect();
    std::thread::scope(|s| {
        let work = &work;
        let handles: Vec<_> = conns
            .into_iter()
            .map(|mut c| {
                s.spawn(move || {
                    let r = work(&mut c);
                    (c, r)
                })
            })
            .collect();
        let exited = watch_setup(&handles, procs, net, &client_ids);
        let results: Vec<(Conn, R)> = handles.into_iter().filter_map(|h| h.join().ok()).collect();
        (results, exited)
    })
}

pub(super) fn init_nodes(
    plan: &TestPlan,
    net: &Net,
    ids: &ClientIds,
    procs: &mut [NodeProc],
) -> Result<(), Box<Crash>> {
    let (results, exited) = on_every_node(plan, net, ids, procs, |c| {
        c.rpc(setup::init_body(plan, &c.node), setup::INIT_TIMEOUT)
    });
    if let Some(crash) = exited {
        return Err(crash);
    }
    let mut problem = None;
    for (c, r) in results {
        let node = c.node.clone();
        c.close();
        if problem.is_some() {
            continue;
        }
        if let Err(p) = setup::check_init(&node, r) {
            problem = Some(p);
        }
    }
    check_exits(procs)?;
    match problem {
        Some(p) => Err(Box::new(Crash::setup(p))),
        None => Ok(()),
    }
}

pub(super) fn setup_clients(
    plan: &TestPlan,
    workload: &dyn Workload,
    net: &Net,
    ids: &ClientIds,
    procs: &mut [NodeProc],
) -> Result<Vec<Conn>, Box<Crash>> {
    let (results, exited) = on_every_node(plan, net, ids, procs, |c| {
        match workload.setup_request(plan) {
            Some(req) => workload.check_setup(c.rpc(req.body, req.timeout)),
            None => Ok(()),
        }
    });
    if let Some(crash) = exited {
        for (c, _) in results {
            c.close();
        }
        return Err(crash);
    }
    check_exits(procs)?;
    let mut kept = Vec::new();
    let mut problem = None;
    for (c, r) in results {
        if let Err(e) = r {
            problem.get_or_insert(format!("client setup on {} failed: {e}", c.node));
        }
        kept.push(c);
    }
    match problem {
        Some(p) => {
            for c in kept {
                c.close();
            }
            Err(Box::new(Crash::setup(p)))
        }
        None => Ok(kept),
    }
}
