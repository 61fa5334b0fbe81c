/**
 * The measuring harness: benny (benchmark.js) for repeatable operations,
 * a plain repeated-timing loop for one-shot operations (building 1 million
 * mappings, touching 2 GiB), both reporting per-unit medians as `Row`s.
 *
 * Every benny case is one *operation* that processes `units` units (N
 * addresses of a batch, one copy, ...): benchmark.js times many operations per
 * sample, and a row's cost is the median sample's time per operation divided
 * by `units`. So a batch of 4096 translations is reported per address, not per
 * call, and the fixed cost of the call is spread over the batch as a user's
 * would be.
 */

import { add, configure, save, suite } from "benny";

export interface Row {
  suite: string;
  /** Rows of one group share a baseline measured in the same process. */
  group: string;
  name: string;
  /** What one unit is: "address", "copy", "map", "frame", "scenario", ... */
  unit: string;
  /** Units per operation (batch size). */
  units: number;
  /** Median nanoseconds per unit. */
  ns: number;
  /** Units per second at the median. */
  perSec: number;
  /** Relative margin of error of the mean (benchmark.js), in %; undefined for one-shot timings. */
  rme?: number;
  samples: number;
  /** Name of the row in the same group this one is compared with. */
  baseline?: string;
  /** baseline ns / this ns (> 1: faster than the baseline). Filled in by the runner. */
  ratio?: number;
  note?: string;
  extra?: Record<string, number | string>;
}

export interface Ctx {
  quick: boolean;
  resultsDir: string;
  rows: Row[];
  log(msg: string): void;
}

export interface BenchCase {
  name: string;
  fn: () => void;
  units: number;
  unit: string;
  baseline?: string;
  note?: string;
  extra?: Record<string, number | string>;
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");

/** Runs `cases` as one benny suite (one chart page) and appends a row per case. */
export async function bennyGroup(ctx: Ctx, suiteName: string, group: string, cases: BenchCase[]): Promise<void> {
  const cfg = ctx.quick ? { minSamples: 4, minTime: 0.01, maxTime: 0.04, delay: 0.001 } : { minSamples: 15, maxTime: 1.0, delay: 0.005 };
  // Validate every case once outside the timer (a broken case fails loudly,
  // not as a fast no-op), then warm each up for a while, so the group that
  // happens to run first in a process is not measured with a cold JIT.
  const warmMs = ctx.quick ? 15 : 100;
  for (const c of cases) {
    c.fn();
    const until = Date.now() + warmMs;
    while (Date.now() < until) c.fn();
  }
  const summary = await suite(
    `${suiteName}: ${group}`,
    ...cases.map((c) => add(c.name, c.fn)),
    configure({ cases: cfg }),
    save({ file: slug(`${suiteName}-${group}`), folder: ctx.resultsDir, format: "chart.html" }),
  );
  for (const r of summary.results) {
    const c = cases.find((x) => x.name === r.name)!;
    const medianSec = r.details.median;
    ctx.rows.push({
      suite: suiteName,
      group,
      name: c.name,
      unit: c.unit,
      units: c.units,
      ns: (medianSec * 1e9) / c.units,
      perSec: c.units / medianSec,
      rme: r.margin,
      samples: r.samples,
      baseline: c.baseline,
      note: c.note,
      extra: c.extra,
    });
  }
  ctx.log(`  ${group}: ${cases.length} cases`);
}

/**
 * Runs `cases` in interleaved rounds (issue 12: ratios from medians of ≥ 5
 * interleaved rounds): each case is validated and warmed, its repetition
 * count calibrated so one timing lasts about `sliceMs`, then every round times
 * every case once, in an order rotated each round, so a slow spell of this
 * shared machine hits all cases of the group alike. A row's cost is the
 * median over the rounds of the time per operation divided by `units`; its
 * "±" column shows n = rounds.
 */
export async function interleavedGroup(ctx: Ctx, suiteName: string, group: string, cases: BenchCase[], opts: { rounds?: number; sliceMs?: number } = {}): Promise<void> {
  const rounds = opts.rounds ?? (ctx.quick ? 5 : 15);
  const sliceMs = opts.sliceMs ?? (ctx.quick ? 4 : 25);
  const reps: number[] = [];
  for (const c of cases) {
    c.fn();
    const until = Date.now() + (ctx.quick ? 10 : 60);
    let k = 0;
    const t0 = process.hrtime.bigint();
    do {
      c.fn();
      k++;
    } while (Date.now() < until);
    const perOp = Number(process.hrtime.bigint() - t0) / k;
    reps.push(Math.max(1, Math.round((sliceMs * 1e6) / perOp)));
  }
  const times: number[][] = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < cases.length; j++) {
      const i = (j + r) % cases.length;
      const fn = cases[i]!.fn;
      const k = reps[i]!;
      const t0 = process.hrtime.bigint();
      for (let q = 0; q < k; q++) fn();
      times[i]!.push(Number(process.hrtime.bigint() - t0) / k);
    }
    await new Promise((res) => setImmediate(res));
  }
  cases.forEach((c, i) => {
    const med = median(times[i]!);
    ctx.rows.push({
      suite: suiteName,
      group,
      name: c.name,
      unit: c.unit,
      units: c.units,
      ns: med / c.units,
      perSec: (c.units * 1e9) / med,
      samples: rounds,
      baseline: c.baseline,
      note: c.note,
      extra: c.extra,
    });
  });
  ctx.log(`  ${group}: ${cases.length} cases, ${rounds} interleaved rounds`);
}

/** Median of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nanoseconds of one call of fn. */
export function timeNs(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0);
}

/**
 * A one-shot measurement: `reps` runs of `run` (each builds its own state and
 * returns the nanoseconds of the part that counts), reported as the median
 * per unit.
 */
export function manualRow(
  ctx: Ctx,
  r: { suite: string; group: string; name: string; unit: string; units: number; reps: number; baseline?: string; note?: string },
  run: () => { ns: number; extra?: Record<string, number | string> },
): Row {
  const times: number[] = [];
  let extra: Record<string, number | string> | undefined;
  for (let i = 0; i < r.reps; i++) {
    const o = run();
    times.push(o.ns);
    extra = o.extra ?? extra;
  }
  const med = median(times);
  const row: Row = {
    suite: r.suite,
    group: r.group,
    name: r.name,
    unit: r.unit,
    units: r.units,
    ns: med / r.units,
    perSec: (r.units * 1e9) / med,
    samples: r.reps,
    baseline: r.baseline,
    note: r.note,
    extra,
  };
  ctx.rows.push(row);
  return row;
}

/** A small deterministic PRNG (mulberry32), so every run measures the same addresses. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates, in place. */
export function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** Keeps a value alive so the JIT cannot drop the work that produced it. */
export let sink = 0;
export function consume(v: number): void {
  sink = (sink + v) | 0;
}
