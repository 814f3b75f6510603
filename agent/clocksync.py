"""The agent's fallback time source: estimating the controller's clock over ZeroMQ.

In production chrony disciplines the Pi's clock and ``SystemClock`` reports it. Where
chrony cannot (no NTP reachable, a firewall, a commune network with only the station),
the agent estimates the controller's disciplined clock itself, NTP-style, and plays out
by that (DESIGN principles 3 and 5). Three pieces live here:

* ``ClockEstimator`` — pure arithmetic over exchange samples: minimum-RTT filtering, a
  linear fit of offset against the agent's monotonic clock (drift), an error bound.
* ``ExchangeClock`` — a ``protocols.clock.Clock`` whose wall time is the agent's
  monotonic clock mapped through that fit, slewed rather than stepped.
* ``ClockSyncClient`` — the DEALER that asks the controller's time service, in a thread.

What is measured against what: every agent-side timestamp is a reading of the agent's
*monotonic* clock. The agent's wall clock may be wrong by years and may be stepped at any
moment (by a user, by chrony coming up late); a step between ``t1`` and ``t4`` would
corrupt a sample, and steps between samples would corrupt the fit. So ``t1`` on the wire
is the wall reading at send (it is only echoed back), ``t4`` is that same reading advanced
by the monotonic time elapsed, and the estimator fits *controller time minus agent
monotonic time* against agent monotonic time. The slope of that line is how fast the
agent's oscillator runs against the controller's disciplined clock, which is exactly what
playout needs to correct sound-card drift. The agent's wall clock only enters the
telemetry: how far, and how fast, the system clock is off.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgspec
import zmq

from protocols.clock import Clock
from protocols.clock_exchange import CLIENT_HEARTBEATS, Heartbeats, TimeRequest, reply_decoder
from protocols.codec import Rejected, RejectionCounter, encode
from protocols.timefields import TimeQuality

from .identity import CurveIdentity

log = logging.getLogger("loaxa.agent.clocksync")

_PPM = 1e-6


@dataclass(frozen=True, slots=True)
class Sample:
    """One completed exchange. ``mono*`` are agent monotonic readings, ``t2``/``t3`` the
    controller's wall clock, ``wall1`` the agent's wall clock at send (sent as ``t1``)."""

    mono1_ns: int
    mono4_ns: int
    wall1_ns: int
    t2_ns: int
    t3_ns: int

    @property
    def delay_ns(self) -> int:
        """Round trip minus the controller's hold time: the NTP delay δ."""
        return (self.mono4_ns - self.mono1_ns) - (self.t3_ns - self.t2_ns)

    @property
    def mid_ns(self) -> int:
        """The agent monotonic time the offset applies to."""
        return (self.mono1_ns + self.mono4_ns) // 2

    @property
    def offset_ns(self) -> int:
        """Controller time minus agent monotonic time, θ = ((t2−t1)+(t3−t4))/2.

        Wrong by half the path asymmetry at most, so never by more than ``delay_ns / 2``.
        """
        return ((self.t2_ns - self.mono1_ns) + (self.t3_ns - self.mono4_ns)) // 2

    @property
    def wall_offset_ns(self) -> int:
        """Controller time minus the agent's wall clock, with ``t4 = t1 + (mono4 − mono1)``."""
        return self.offset_ns - (self.wall1_ns - self.mono1_ns)


@dataclass(frozen=True)
class EstimatorConfig:
    """Knobs of the estimator; the defaults suit a Pi on 4G polling every 16 s."""

    window: int = 128  # samples kept: ~34 min at 16 s, long enough to see drift
    noise_floor_us: int = 50  # timestamping noise: the best samples are not infinitely good
    min_samples: int = 8  # before the estimate may be called ESTIMATED
    min_drift_span_s: float = 60.0  # fit a slope only over at least this much time
    max_drift_ppm: float = 500.0  # an oscillator worse than this is broken: clamp
    prior_drift_uncertainty_ppm: float = 200.0  # before any slope was fitted
    holdover_ppm: float = 1.0  # oscillator wander assumed while no samples arrive
    max_uncertainty_us: int = 250_000  # ESTIMATED only while the error bound is below
    slew_ppm: float = 500.0  # how fast corrections are applied (as adjtime does)
    step_threshold_us: int = 128_000  # larger corrections step rather than slew
    step_samples: int = 3  # consecutive inconsistent samples that prove a clock moved
    consistency_margin_us: int = 1_000
    max_delay_s: float = 10.0  # a reply later than this is useless evidence


@dataclass(frozen=True, slots=True)
class Model:
    """Controller time as a line in agent monotonic time."""

    ref_mono_ns: int
    ref_ctrl_ns: int
    rate: float  # d(controller − agent)/d(agent): −1e-4 when the agent runs 100 ppm fast

    def at(self, mono_ns: int) -> int:
        elapsed = mono_ns - self.ref_mono_ns
        return self.ref_ctrl_ns + elapsed + round(elapsed * self.rate)


@dataclass(frozen=True, slots=True)
class Fit:
    """The estimator's current answer and how far to trust it."""

    model: Model
    samples: int  # in the window
    effective: float  # how many samples the weights amount to (Kish): the filter at work
    min_delay_ns: int
    residual_ns: float  # weighted RMS scatter of the samples about the line
    rate_error: float  # standard error of ``model.rate`` (or the prior's)
    drift_fitted: bool
    centre_mono_ns: int  # where the fit is best
    last_mono_ns: int  # the newest sample, for holdover
    wall_rate: float | None  # d(controller − agent wall)/d(agent monotonic)

    def uncertainty_ns(self, mono_ns: int, holdover_ppm: float) -> int:
        """A bound on the error at ``mono_ns``: half the best round trip (the path could be
        that asymmetric), the scatter, the slope's error extrapolated, and wander since the
        last sample."""
        since_centre = abs(mono_ns - self.centre_mono_ns)
        since_last = max(0, mono_ns - self.last_mono_ns)
        return int(self.min_delay_ns / 2 + self.residual_ns + self.rate_error * since_centre
                   + holdover_ppm * _PPM * since_last)


def drift_ppm_of(rate: float) -> float:
    """How fast the agent runs against the controller (ppm, positive = agent fast)."""
    return -rate / (1.0 + rate) / _PPM


class ClockEstimator:
    """Minimum-RTT filtering and a drift fit over a window of exchange samples.

    A sample's offset is wrong by half the asymmetry of its path, which can be as large as
    half its delay; the samples with the smallest round trip carry the least queueing and
    so the least room for error. The filter is therefore a weighted least-squares line
    (offset against agent monotonic time) over the whole window, each sample weighted by
    ``1 / (excess/2 + noise_floor)²`` where ``excess`` is its delay above the window's
    minimum: a sample that queued 5 ms counts some 2,600 times less than the best one,
    yet every sample still contributes to the slope, which needs a long time span to
    resolve a few ppm. The fitted slope (the oscillator's frequency error) is combined with
    the prior (a remembered drift, or what the window before a reset learnt) by inverse
    variance, so a short or noisy window cannot throw away what is known. Not thread-safe:
    ``ExchangeClock`` serialises access.
    """

    def __init__(self, config: EstimatorConfig | None = None,
                 initial_drift_ppm: float = 0.0) -> None:
        self.config = config or EstimatorConfig()
        self._window: deque[Sample] = deque(maxlen=self.config.window)
        self._prior_rate = _rate_of_ppm(initial_drift_ppm)
        self._prior_error = self.config.prior_drift_uncertainty_ppm * _PPM
        self._suspects: list[Sample] = []
        self._fit: Fit | None = None
        self.rejected: dict[str, int] = {}
        self.resets = 0

    @property
    def samples(self) -> int:
        return len(self._window)

    @property
    def fit(self) -> Fit | None:
        return self._fit

    @property
    def settled(self) -> bool:
        """The drift is fitted and the newest sample agreed with the line: the estimate
        can coast between sparse exchanges."""
        return self._fit is not None and self._fit.drift_fitted and not self._suspects

    def remember_drift(self, rate: float, rate_error: float) -> None:
        """Start from a drift known before (a restart): the prior of the next fits."""
        self._prior_rate = rate
        self._prior_error = max(rate_error, self.config.holdover_ppm * _PPM)

    def reset(self) -> None:
        """Forget the samples (the controller's clock stepped) but keep the drift learnt."""
        if self._fit is not None and self._fit.drift_fitted:
            self._prior_rate = self._fit.model.rate
            self._prior_error = max(self._fit.rate_error, self.config.holdover_ppm * _PPM)
        self._window.clear()
        self._suspects.clear()
        self._fit = None
        self.resets += 1

    def add(self, sample: Sample) -> bool:
        """Take a sample; False (and counted) when it cannot be evidence of anything."""
        reason = self._implausible(sample)
        if reason is not None:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1
            return False
        if self._fit is not None and not self._consistent(sample, self._fit):
            if self._suspects and _sign(self._residual(self._suspects[0], self._fit)) != \
                    _sign(self._residual(sample, self._fit)):
                self._suspects.clear()
            self._suspects.append(sample)
            if len(self._suspects) < self.config.step_samples:
                return True  # held aside: one odd sample proves nothing yet
            log.warning("%d samples disagree with the clock estimate beyond their delay; "
                        "the controller's or this agent's clock moved: restarting the fit",
                        len(self._suspects))
            suspects = list(self._suspects)
            self.reset()
            self._window.extend(suspects)
        else:
            self._suspects.clear()
            self._window.append(sample)
        self._fit = self._refit()
        return True

    def _implausible(self, sample: Sample) -> str | None:
        if sample.mono4_ns < sample.mono1_ns:
            return "monotonic_backwards"
        hold = sample.t3_ns - sample.t2_ns
        if hold < 0 or hold > 1_000_000_000:
            return "controller_hold"  # t3 before t2, or a step inside the controller
        if sample.delay_ns < -self.config.consistency_margin_us * 1000:
            return "negative_delay"
        if sample.delay_ns > self.config.max_delay_s * 1e9:
            return "too_slow"
        return None

    def _residual(self, sample: Sample, fit: Fit) -> int:
        return sample.offset_ns - (fit.model.at(sample.mid_ns) - sample.mid_ns)

    def _consistent(self, sample: Sample, fit: Fit) -> bool:
        """The true offset lies within ±δ/2 of a sample's; so does a right model's."""
        bound = (max(0, sample.delay_ns) / 2
                 + fit.uncertainty_ns(sample.mid_ns, self.config.holdover_ppm)
                 + self.config.consistency_margin_us * 1000)
        return abs(self._residual(sample, fit)) <= bound

    def _refit(self) -> Fit:
        config = self.config
        window = list(self._window)
        n = len(window)
        best = min(window, key=lambda s: (s.delay_ns, -s.mid_ns))  # ties: the newest
        min_delay = best.delay_ns
        ref_mono, ref_offset = best.mid_ns, best.offset_ns
        floor = config.noise_floor_us * 1000
        weights = [1.0 / (max(0, s.delay_ns - min_delay) / 2 + floor) ** 2 for s in window]
        total = sum(weights)
        xs = [float(s.mid_ns - ref_mono) for s in window]
        ys = [float(s.offset_ns - ref_offset) for s in window]
        vs = [float(s.wall_offset_ns - ref_offset) for s in window]
        x_mean = _weighted_mean(weights, xs)
        y_mean = _weighted_mean(weights, ys)
        sxx = sum(w * (x - x_mean) ** 2 for w, x in zip(weights, xs, strict=True))
        rate, rate_error = self._prior_rate, self._prior_error
        wall_rate: float | None = None
        fitted = n >= 3 and sxx > 0 and max(xs) - min(xs) >= config.min_drift_span_s * 1e9
        if fitted:
            slope = _slope(weights, xs, ys, x_mean, y_mean, sxx)
            scatter = sum(w * (y - y_mean - slope * (x - x_mean)) ** 2
                          for w, x, y in zip(weights, xs, ys, strict=True)) / (n - 2)
            fit_var = max(scatter / sxx, 1e-30)
            prior_var = rate_error ** 2
            rate = (rate / prior_var + slope / fit_var) / (1 / prior_var + 1 / fit_var)
            rate_error = math.sqrt(1 / (1 / prior_var + 1 / fit_var))
            limit = config.max_drift_ppm * _PPM
            rate = min(limit, max(-limit, rate))
            wall_rate = _slope(weights, xs, vs, x_mean, _weighted_mean(weights, vs), sxx)
        residual = math.sqrt(sum(w * (y - y_mean - rate * (x - x_mean)) ** 2
                                 for w, x, y in zip(weights, xs, ys, strict=True)) / total)
        centre = ref_mono + round(x_mean)
        model = Model(ref_mono_ns=centre, ref_ctrl_ns=centre + ref_offset + round(y_mean),
                      rate=rate)
        return Fit(model=model, samples=n,
                   effective=total * total / sum(w * w for w in weights),
                   min_delay_ns=max(0, min_delay), residual_ns=residual,
                   rate_error=rate_error, drift_fitted=fitted, centre_mono_ns=centre,
                   last_mono_ns=max(s.mid_ns for s in window), wall_rate=wall_rate)


def _weighted_mean(weights: list[float], values: list[float]) -> float:
    return sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)


def _slope(weights: list[float], xs: list[float], ys: list[float], x_mean: float,
           y_mean: float, sxx: float) -> float:
    return sum(w * (x - x_mean) * (y - y_mean)
               for w, x, y in zip(weights, xs, ys, strict=True)) / sxx


@dataclass(frozen=True, slots=True)
class _Served:
    """What ``wall_ns`` serves: the fitted line plus a correction still being slewed out.

    At ``since_mono_ns`` the served clock was ``residual_ns`` away from the new line; the
    gap closes at ``slew`` ns per ns, so the served clock is continuous and never runs
    backwards (its rate stays within 1 ± (drift + slew)).
    """

    fit: Fit
    since_mono_ns: int
    residual_ns: int
    slew: float

    def residual_at(self, mono_ns: int) -> int:
        left = abs(self.residual_ns) - int(max(0, mono_ns - self.since_mono_ns) * self.slew)
        return 0 if left <= 0 else (left if self.residual_ns > 0 else -left)

    def at(self, mono_ns: int) -> int:
        return self.fit.model.at(mono_ns) + self.residual_at(mono_ns)


@dataclass(frozen=True)
class ClockEstimate:
    """A snapshot for telemetry (``Telemetry.clock_offset_us`` / ``clock_uncertainty_us``)."""

    quality: TimeQuality
    offset_us: int | None  # controller time minus this agent's system wall clock
    uncertainty_us: int | None  # bound on the served clock's error
    drift_ppm: float | None  # agent oscillator against the controller, + = agent fast
    wall_drift_ppm: float | None  # agent system wall clock against the controller
    samples: int
    min_rtt_us: int | None
    steps: int
    resets: int
    rejected: dict[str, int] = field(default_factory=dict)


class Holdover(msgspec.Struct, array_like=True, frozen=True):
    """The served estimate, kept across a restart of the agent within one boot.

    Monotonic readings only compare within a boot, so whoever stores this also stores
    the kernel boot id and restores it only into the same boot. The error budget is
    re-centred at ``ref_mono_ns``: the bound it implies later is never smaller than the one
    the running estimate would have reported.
    """

    ref_mono_ns: int
    ref_ctrl_ns: int
    rate: float
    rate_error: float
    error_ns: int  # the error bound at ``ref_mono_ns``, before holdover since the last sample
    last_mono_ns: int  # the newest sample
    timebase: int | None = None


class ExchangeClock:
    """A ``Clock`` whose wall time is the controller's, as estimated from exchanges.

    ``monotonic_ns`` is the base clock's. ``wall_ns`` is the base monotonic clock mapped
    through the fitted line, so neither a step of the agent's own wall clock nor a new
    sample makes it jump: corrections are slewed at ``slew_ppm``, and only one larger than
    ``step_threshold_us`` (the controller's clock stepped) is applied at once. Until the
    estimate has converged, ``wall_ns`` is the base wall clock and ``quality`` is
    ``UNSYNCED``; then ``ESTIMATED`` while the error bound stays below
    ``max_uncertainty_us`` (it grows while no samples arrive).

    Samples come from ``ClockSyncClient`` (or a test) through ``add_sample``; readers in
    other threads see an immutable snapshot, so reading the clock takes no lock.
    """

    def __init__(self, base: Clock, config: EstimatorConfig | None = None, *,
                 initial_drift_ppm: float = 0.0) -> None:
        self._base = base
        self._estimator = ClockEstimator(config, initial_drift_ppm)
        self.config = self._estimator.config
        self._lock = threading.Lock()
        self._served: _Served | None = None
        self._timebase: int | None = None
        self._steps = 0

    @property
    def base(self) -> Clock:
        """The clock underneath: its monotonic time is what samples are measured in."""
        return self._base

    # ------------------------------------------------------------------ Clock
    def monotonic_ns(self) -> int:
        return self._base.monotonic_ns()

    def wall_ns(self) -> int:
        served = self._served
        if served is None:
            return self._base.wall_ns()
        return served.at(self._base.monotonic_ns())

    def quality(self) -> TimeQuality:
        served = self._served
        if served is None:
            return TimeQuality.UNSYNCED
        bound = self._uncertainty(served, self._base.monotonic_ns())
        return TimeQuality.ESTIMATED if bound <= self.config.max_uncertainty_us * 1000 \
            else TimeQuality.UNSYNCED

    # ------------------------------------------------------------------ feeding
    def add_sample(self, sample: Sample, timebase: int | None = None) -> bool:
        """Feed one exchange; ``timebase`` is the controller's (a change drops the window)."""
        with self._lock:
            if timebase is not None and timebase != self._timebase:
                if self._timebase is not None:
                    log.warning("the controller's clock stepped (timebase %d -> %d); "
                                "restarting the estimate", self._timebase, timebase)
                    self._estimator.reset()
                self._timebase = timebase
            if not self._estimator.add(sample):
                return False
            fit = self._estimator.fit
            if fit is not None:
                self._serve(fit)
            return True

    def _serve(self, fit: Fit) -> None:
        now = self._base.monotonic_ns()
        served = self._served
        slew = self.config.slew_ppm * _PPM
        if served is None:
            converged = (fit.samples >= self.config.min_samples
                         and fit.uncertainty_ns(now, self.config.holdover_ppm)
                         <= self.config.max_uncertainty_us * 1000)
            if converged:
                self._served = _Served(fit, now, 0, slew)
                log.info("clock estimate converged from %d samples", fit.samples)
            return
        residual = served.at(now) - fit.model.at(now)
        if abs(residual) > self.config.step_threshold_us * 1000:
            self._steps += 1
            log.warning("stepping the estimated clock by %.3f ms", -residual / 1e6)
            residual = 0
        self._served = _Served(fit, now, residual, slew)

    # ------------------------------------------------------------------ restarts
    def holdover(self) -> Holdover | None:
        """What a restart within this boot needs to keep serving (None before converging)."""
        with self._lock:
            served = self._served
            if served is None:
                return None
            now = self._base.monotonic_ns()
            fit = served.fit
            error = (fit.min_delay_ns / 2 + fit.residual_ns
                     + fit.rate_error * abs(now - fit.centre_mono_ns)
                     + abs(served.residual_at(now)))
            return Holdover(ref_mono_ns=now, ref_ctrl_ns=served.at(now), rate=fit.model.rate,
                            rate_error=fit.rate_error, error_ns=int(error),
                            last_mono_ns=fit.last_mono_ns, timebase=self._timebase)

    def restore(self, holdover: Holdover) -> bool:
        """Serve a stored estimate at once (same boot only: see ``Holdover``); False, and
        nothing changed, when it is too old to be trusted or not from this boot's past."""
        now = self._base.monotonic_ns()
        if not holdover.last_mono_ns <= holdover.ref_mono_ns <= now:
            return False
        fit = Fit(model=Model(holdover.ref_mono_ns, holdover.ref_ctrl_ns, holdover.rate),
                  samples=0, effective=0.0, min_delay_ns=0,
                  residual_ns=float(max(0, holdover.error_ns)),
                  rate_error=holdover.rate_error, drift_fitted=True,
                  centre_mono_ns=holdover.ref_mono_ns, last_mono_ns=holdover.last_mono_ns,
                  wall_rate=None)
        if fit.uncertainty_ns(now, self.config.holdover_ppm) > \
                self.config.max_uncertainty_us * 1000:
            return False
        with self._lock:
            self._estimator.remember_drift(holdover.rate, holdover.rate_error)
            self._timebase = holdover.timebase
            self._served = _Served(fit, now, 0, self.config.slew_ppm * _PPM)
        log.info("clock estimate restored from before the restart (bound %.1f ms)",
                 fit.uncertainty_ns(now, self.config.holdover_ppm) / 1e6)
        return True

    # ------------------------------------------------------------------ telemetry
    @property
    def samples(self) -> int:
        """Samples in the estimator's window (the client polls faster while few)."""
        with self._lock:
            return self._estimator.samples

    def settled(self, min_samples: int = 0) -> bool:
        """Converged, drift fitted over at least ``min_samples`` (or a full window), and
        the newest sample agreed: polls may grow sparse."""
        with self._lock:
            return self._served is not None and self._estimator.settled and \
                self._estimator.samples >= min(min_samples, self.config.window)

    def offset_us(self) -> int | None:
        """Controller time minus the agent's system wall clock, µs (None before converging)."""
        served = self._served
        if served is None:
            return None
        wall = self._base.wall_ns()
        return (served.at(self._base.monotonic_ns()) - wall) // 1000

    def uncertainty_us(self) -> int | None:
        """A bound on ``wall_ns``'s error against the controller's clock, µs."""
        served = self._served
        if served is None:
            return None
        return self._uncertainty(served, self._base.monotonic_ns()) // 1000

    def drift_ppm(self) -> float | None:
        """The agent oscillator's frequency error against the controller (+ = agent fast).

        Worth persisting: passed back as ``initial_drift_ppm`` it shortens the next start.
        """
        fit = self._estimator.fit
        return drift_ppm_of(fit.model.rate) if fit is not None and fit.drift_fitted else None

    def snapshot(self) -> ClockEstimate:
        with self._lock:
            fit = self._estimator.fit
            samples = self._estimator.samples
            rejected = dict(self._estimator.rejected)
            resets = self._estimator.resets
        wall_drift = None
        # The wall clock is the box's own and may be anything (stepped, stopped): only a
        # clock that still runs forwards has a drift worth reporting.
        if fit is not None and fit.wall_rate is not None and math.isfinite(fit.wall_rate) \
                and fit.wall_rate > -1.0:
            wall_drift = drift_ppm_of(fit.wall_rate)
        return ClockEstimate(
            quality=self.quality(), offset_us=self.offset_us(),
            uncertainty_us=self.uncertainty_us(),
            drift_ppm=drift_ppm_of(fit.model.rate) if fit and fit.drift_fitted else None,
            wall_drift_ppm=wall_drift, samples=samples,
            min_rtt_us=fit.min_delay_ns // 1000 if fit else None,
            steps=self._steps, resets=resets, rejected=rejected)

    def _uncertainty(self, served: _Served, mono_ns: int) -> int:
        return (served.fit.uncertainty_ns(mono_ns, self.config.holdover_ppm)
                + abs(served.residual_at(mono_ns)))


def _rate_of_ppm(ppm: float) -> float:
    return -ppm * _PPM / (1.0 + ppm * _PPM)


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


# --------------------------------------------------------------------------- the client


@dataclass(frozen=True)
class PollConfig:
    """When to ask (``next_interval``). A burst at start converges in seconds; then one
    exchange every ``interval_s``; once the estimate is *settled* — ``settle_samples``
    samples (the whole window, about 35 minutes at 16 s), a fitted drift, and the newest
    sample agreeing with it — the interval doubles up to ``max_interval_s``, and drops back
    to ``interval_s`` as soon as a sample disagrees or an exchange fails. Intervals are
    jittered ±10% so agents restarted together do not ask together.

    4G bytes (TCP payload): an exchange is 138 bytes (request, reply, CURVE framing), so
    every 16 s it would be 0.75 MB a day; every 256 s it is 338 exchanges, 47 KB; the
    agent's ZMTP PING every 60 s (``protocols.clock_exchange.CLIENT_HEARTBEATS``) adds
    118 KB. Backing off only from a full window keeps the error what 16 s polling gives
    (p99 2-5 ms under simulated 4G queueing, ``tests/clocksync/test_polling.py``): the
    drift is then known to well under a ppm, a fraction of a millisecond over 256 s.
    """

    burst_interval_s: float = 1.0
    burst_count: int = 8  # poll at the burst rate while the window holds fewer samples
    interval_s: float = 16.0
    growth: float = 1.5  # from the burst rate up to ``interval_s``
    max_interval_s: float = 256.0
    settle_samples: int = 128  # before backing off beyond ``interval_s``
    reply_timeout_s: float = 3.0
    send_timeout_ms: int = 1_000
    reconnect_max_ms: int = 30_000

    def next_interval(self, interval: float, *, samples: int, settled: bool,
                      answered: bool) -> float:
        """The interval after an exchange that came ``interval`` after the previous one;
        ``settled`` is ``ExchangeClock.settled(settle_samples)``."""
        if samples < self.burst_count:
            return self.burst_interval_s
        if interval < self.interval_s:
            return min(self.interval_s, interval * self.growth)
        if not answered or not settled:
            return self.interval_s
        return min(max(self.max_interval_s, self.interval_s), interval * 2)


class ClockSyncClient:
    """Asks the controller's time service and feeds an ``ExchangeClock``, in a thread.

    A CURVE DEALER dialling out (agents sit behind carrier NAT), with ``linger=0``, a
    send timeout, ``immediate`` (requests are not queued for a connection that is not up,
    where they would arrive stale) and ZMTP heartbeats. Only one request is outstanding; a
    reply is accepted only if it echoes that request's ``seq`` and ``t1``, comes from a
    synchronised controller and decodes cleanly — anything else is counted and dropped.
    """

    def __init__(self, endpoint: str, server_public_key: bytes, identity: CurveIdentity,
                 clock: ExchangeClock, *, poll: PollConfig | None = None,
                 heartbeats: Heartbeats | None = None,
                 context: zmq.Context[Any] | None = None) -> None:
        self.endpoint = endpoint
        self.clock = clock
        self._server_key = server_public_key
        self._identity = identity
        self._poll = poll or PollConfig()
        self._heartbeats = heartbeats or CLIENT_HEARTBEATS
        self._own_context = context is None
        self._context: zmq.Context[Any] = context if context is not None else zmq.Context()
        self.counter = RejectionCounter()
        self._decoder = reply_decoder(self.counter)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._socket: zmq.Socket[bytes] | None = None
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._stats = {"sent": 0, "accepted": 0, "unusable": 0, "stale": 0, "timeouts": 0,
                       "send_timeouts": 0, "controller_unsynced": 0}

    def start(self) -> ClockSyncClient:
        if self._thread is not None:
            raise RuntimeError("the clock-sync client is already started")
        sock: zmq.Socket[bytes] = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDTIMEO, self._poll.send_timeout_ms)
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.SNDHWM, 4)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, self._poll.reconnect_max_ms)
        sock.setsockopt(zmq.HEARTBEAT_IVL, self._heartbeats.interval_ms)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, self._heartbeats.timeout_ms)
        sock.setsockopt(zmq.HEARTBEAT_TTL, self._heartbeats.ttl_ms)
        sock.setsockopt(zmq.CURVE_SERVERKEY, self._server_key)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self._identity.public_key)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self._identity.secret_key)
        sock.connect(self.endpoint)
        self._socket = sock
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="clocksync", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self._own_context and not self._context.closed:
            self._context.term()

    def __enter__(self) -> ClockSyncClient:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, int]:
        with self._lock:
            figures = dict(self._stats)
        figures.update(self.counter.snapshot())
        return figures

    def _bump(self, key: str) -> None:
        with self._lock:
            self._stats[key] += 1

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        sock = self._socket
        assert sock is not None
        base = self.clock
        seq = self._rng.getrandbits(32)
        interval = self._poll.burst_interval_s
        try:
            while not self._stopping.is_set():
                seq = (seq + 1) & 0xFFFF_FFFF
                started = base.monotonic_ns()
                answered = self._exchange(sock, seq)
                interval = self._poll.next_interval(
                    interval, samples=self.clock.samples,
                    settled=self.clock.settled(self._poll.settle_samples), answered=answered)
                due = started + int(interval * self._rng.uniform(0.9, 1.1) * 1e9)
                self._stopping.wait(max(0.0, (due - base.monotonic_ns()) / 1e9))
        except zmq.ZMQError as exc:
            if not self._stopping.is_set():
                log.error("clock-sync socket failed: %s", exc)
        finally:
            sock.close(linger=0)
            self._socket = None

    def _exchange(self, sock: zmq.Socket[bytes], seq: int) -> bool:
        """One request and its reply; whether a usable sample came of it."""
        base = self.clock
        wall1 = base.base.wall_ns()
        payload = encode(TimeRequest(seq=seq, t1_ns=wall1))
        mono1 = base.monotonic_ns()
        try:
            sock.send(payload)
        except zmq.Again:  # not connected (yet): the send timeout paces the retries
            self._bump("send_timeouts")
            return False
        self._bump("sent")
        deadline = mono1 + int(self._poll.reply_timeout_s * 1e9)
        while not self._stopping.is_set():
            left_ms = (deadline - base.monotonic_ns()) // 1_000_000
            if left_ms <= 0:
                self._bump("timeouts")
                return False
            if not sock.poll(min(left_ms, 100), zmq.POLLIN):
                continue
            data = sock.recv(zmq.NOBLOCK)
            mono4 = base.monotonic_ns()  # first thing after the socket, always
            reply = self._decoder.decode(data)
            if isinstance(reply, Rejected):
                log.debug("ignored a time reply: %s", reply)
                continue
            if reply.seq != seq or reply.t1_ns != wall1:
                self._bump("stale")  # a late answer to an abandoned request
                continue
            if not reply.quality.trusted:
                self._bump("controller_unsynced")
                return False
            sample = Sample(mono1_ns=mono1, mono4_ns=mono4, wall1_ns=wall1,
                            t2_ns=reply.t2_ns, t3_ns=reply.t3_ns)
            usable = self.clock.add_sample(sample, reply.timebase)
            self._bump("accepted" if usable else "unusable")
            return usable
        return False
