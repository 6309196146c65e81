// Samples the mediator's metrics (GET /api/metrics) every few seconds and keeps the last minutes,
// for the live counts and the charts. One sampler runs while the console is open, whatever page
// shows, so the charts already have a history when the metrics page opens.

import {ops} from './ops.js';

export class MetricsSampler {
  constructor({intervalMs = 2000, keepMs = 10 * 60 * 1000} = {}) {
    this.intervalMs = intervalMs;
    this.keepMs = keepMs;
    /** [{t (ms since the epoch), workflows: {...counters}, steps: [{service, action, count, errors, mean_ms}],
     *    journal: {commits, records, timed_commits, commit_seconds_sum, commit_p50_ms, commit_p99_ms}}] */
    this.samples = [];
    this.error = null;
    this.listeners = new Set();
    this.timer = null;
  }

  start() {
    if (this.timer !== null) return;
    const tick = async () => {
      await this.sample();
      if (this.timer !== null) this.timer = setTimeout(tick, this.intervalMs);
    };
    this.timer = setTimeout(tick, 0);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
  }

  /** Calls `listener(sampler)` after every sample; returns the function that unsubscribes. */
  subscribe(listener) {
    this.listeners.add(listener);
    if (this.samples.length || this.error) listener(this);
    return () => this.listeners.delete(listener);
  }

  latest() {
    return this.samples.at(-1) || null;
  }

  async sample() {
    try {
      const metrics = await ops('/api/metrics');
      const t = Date.now();
      this.samples.push({
        t,
        workflows: metrics.workflows || {},
        steps: metrics.steps || [],
        journal: metrics.journal || {},
      });
      while (this.samples.length && this.samples[0].t < t - this.keepMs) this.samples.shift();
      this.error = null;
    } catch (error) {
      this.error = error;
    }
    for (const listener of this.listeners) listener(this);
  }
}
