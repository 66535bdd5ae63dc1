//! How long each step of one job took, for the operator's metrics. The steps record into the
//! job's thread (every step of a job runs on the blocking thread that runs the job), so no
//! step's signature carries a timer and the pipeline stays free of any metrics crate.

use std::cell::RefCell;
use std::time::{Duration, Instant};

/// The steps the metrics tell apart (the `step` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Sniffing the format, reading the header, checking the limits, planning the decode.
    Probe,
    Decode,
    Orient,
    Resize,
    /// Conversion to sRGB (and the padding of a `contain` canvas).
    Color,
    Encode,
    /// The upload answer's ThumbHash and dominant colour, from the resized pixels.
    Placeholder,
    /// A whole animation, every frame through the steps above and into animated WebP.
    Animation,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Probe => "probe",
            Step::Decode => "decode",
            Step::Orient => "orient",
            Step::Resize => "resize",
            Step::Color => "color",
            Step::Encode => "encode",
            Step::Placeholder => "placeholder",
            Step::Animation => "animation",
        }
    }
}

/// The steps one job ran, in order, with their times.
pub type StepTimes = Vec<(Step, Duration)>;

thread_local! {
    /// `Some` while [`collect`] runs on this thread.
    static STEPS: RefCell<Option<StepTimes>> = const { RefCell::new(None) };
}

/// Runs `step`, recording its time when a [`collect`] is running on this thread.
pub fn timed<T>(step: Step, run: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = run();
    let took = started.elapsed();
    STEPS.with(|steps| {
        if let Some(steps) = steps.borrow_mut().as_mut() {
            steps.push((step, took));
        }
    });
    out
}

/// Runs `job` and returns what it gave with the steps it timed.
pub fn collect<T>(job: impl FnOnce() -> T) -> (T, StepTimes) {
    let outer = STEPS.with(|steps| steps.borrow_mut().replace(Vec::new()));
    // Put back even when the job panics, so the thread's next job starts clean.
    let _restore = Restore(outer);
    let out = job();
    let times = STEPS.with(|steps| steps.borrow_mut().take());
    (out, times.unwrap_or_default())
}

/// What [`STEPS`] held before a [`collect`], put back when it ends.
struct Restore(Option<StepTimes>);

impl Drop for Restore {
    fn drop(&mut self) {
        let outer = self.0.take();
        STEPS.with(|steps| *steps.borrow_mut() = outer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_recorded_only_inside_collect_and_in_order() {
        assert_eq!(timed(Step::Decode, || 1), 1);
        let (out, times) = collect(|| {
            timed(Step::Probe, || ());
            timed(Step::Encode, || 7)
        });
        assert_eq!(out, 7);
        let steps: Vec<Step> = times.iter().map(|(step, _)| *step).collect();
        assert_eq!(steps, [Step::Probe, Step::Encode]);
        // Nothing leaks into the next job.
        let ((), times) = collect(|| ());
        assert!(times.is_empty());
    }

    #[test]
    fn a_job_that_panics_leaves_nothing_behind() {
        let panicked = std::panic::catch_unwind(|| {
            collect(|| {
                timed(Step::Decode, || ());
                panic!("a step failed");
            })
        });
        assert!(panicked.is_err());
        let ((), times) = collect(|| timed(Step::Encode, || ()));
        let steps: Vec<Step> = times.iter().map(|(step, _)| *step).collect();
        assert_eq!(steps, [Step::Encode]);
        STEPS.with(|steps| assert!(steps.borrow().is_none()));
    }
}
