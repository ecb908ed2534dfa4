//! A one-shot timer for a deadline that moves: Raft pushes its election deadline back on
//! every heartbeat, which should not cost a timer each time.
//!
//! [`Alarm::arm`] keeps the timer already set when it fires no later than the new
//! deadline (it then fires early, and the handler, seeing its deadline has not come,
//! arms again), and replaces it when the new deadline is earlier.

use std::time::Duration;

use glomers_runtime::{Ctx, Handler, TimerId};

/// One pending timer and when it fires.
#[derive(Debug, Default)]
pub struct Alarm {
    armed: Option<(TimerId, Duration)>,
}

impl Alarm {
    /// Makes sure `timer` fires at `at` or earlier.
    pub fn arm<H: Handler>(&mut self, ctx: &mut Ctx<H>, at: Duration, timer: H::Timer) {
        match self.armed {
            Some((_, due)) if due <= at => return,
            Some((id, _)) => ctx.cancel_timer(id),
            None => {}
        }
        let after = at.saturating_sub(ctx.now());
        self.armed = Some((ctx.set_timer(after, timer), at));
    }

    /// Forgets the timer: call when it fired.
    pub fn fired(&mut self) {
        self.armed = None;
    }

    /// Cancels the timer, if set.
    pub fn disarm<H: Handler>(&mut self, ctx: &mut Ctx<H>) {
        if let Some((id, _)) = self.armed.take() {
            ctx.cancel_timer(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glomers_runtime::testkit::{Effect, Sandbox};
    use glomers_runtime::{Never, Result, Sender};

    #[derive(serde::Deserialize)]
    #[serde(tag = "type")]
    enum Ping {
        Ping,
    }

    struct H;
    impl Handler for H {
        type Msg<'a> = Ping;
        type Timer = u8;
        type Rpc = Never;
        fn on_message(&mut self, _: &mut Ctx<Self>, _: Sender, _: Self::Msg<'_>) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn later_deadlines_keep_the_timer_earlier_ones_replace_it() {
        let mut sandbox = Sandbox::<H>::new("n0", &["n0"]);
        let mut alarm = Alarm::default();
        let ms = Duration::from_millis;
        let (_, first) = sandbox.call(|ctx| alarm.arm(ctx, ms(100), 1));
        assert!(matches!(first[..], [Effect::SetTimer { after, .. }] if after == ms(100)));
        let (_, later) = sandbox.call(|ctx| alarm.arm(ctx, ms(300), 1));
        assert!(later.is_empty());
        let (_, earlier) = sandbox.call(|ctx| alarm.arm(ctx, ms(50), 1));
        assert!(matches!(
            earlier[..],
            [Effect::CancelTimer { .. }, Effect::SetTimer { after, .. }] if after == ms(50)
        ));
        alarm.fired();
        let (_, again) = sandbox.call(|ctx| alarm.arm(ctx, ms(300), 1));
        assert_eq!(again.len(), 1);
    }
}
